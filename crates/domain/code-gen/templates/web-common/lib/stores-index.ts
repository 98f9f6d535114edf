// Every data model's store, in the order of app-data.ts's `models`.
import type { AnyStore } from "[[ store_import ]]";
[% for model in plan.models %]import { [[ model.ident ]]Store } from "./[[ model.ident ]]";
[% endfor %]
export const stores: AnyStore[] = [
[% for model in plan.models %]  [[ model.ident ]]Store as unknown as AnyStore,
[% endfor %]];
