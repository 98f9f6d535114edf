// The store of the data model "[[ model.type_name ]]" (its name and fields are in app-data.ts).
import { createStore } from "[[ store_import ]]";

export interface [[ model.type_name ]]Values {
[% for field in model.fields %]  "[[ field.key ]]"[% if not field.required %]?[% endif %]: [[ field.ts_type ]][% if not field.required %] | null[% endif %];
[% endfor %]}

export const [[ model.ident ]]Store = createStore<[[ model.type_name ]]Values>([[ model.index ]]);
