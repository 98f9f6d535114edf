// Field validation, the same rules as the static app: required, type, and the spec's `validation`
// (minLength, maxLength, min, max, pattern (an invalid pattern is ignored), email, options).
import { t } from "./i18n";
import type { FieldData, Json, JsonObject, ModelData } from "./types";
import { own, text } from "./types";

/** What a form holds for a field before conversion. */
export type RawValue = string | boolean;
export type RawValues = Record<string, RawValue>;
export type StoredValue = string | number | boolean | null;

function limit(rules: Json, key: string): number | undefined {
  const v = own(rules, key);
  const n = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
  return typeof n === "number" && Number.isFinite(n) ? n : undefined;
}

function regex(rules: Json): RegExp | undefined {
  const source = own(rules, "pattern");
  if (typeof source !== "string") return undefined;
  try {
    return new RegExp(source);
  } catch {
    return undefined;
  }
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** The message for the first rule `raw` breaks, or null when it is valid. */
export function validateField(field: FieldData, raw: RawValue | undefined): string | null {
  const label = field.name;
  if (field.type === "boolean") {
    return field.required && raw !== true && raw !== false ? t.required(label) : null;
  }
  const value = typeof raw === "string" ? raw : raw === undefined ? "" : String(raw);
  if (value.trim() === "") return field.required ? t.required(label) : null;
  const rules = field.validation;
  if (field.type === "number") {
    const n = Number(value);
    if (!Number.isFinite(n)) return t.number(label);
    const min = limit(rules, "min");
    if (min !== undefined && n < min) return t.min(label, min);
    const max = limit(rules, "max");
    if (max !== undefined && n > max) return t.max(label, max);
  } else if (field.type === "date") {
    if (Number.isNaN(Date.parse(value))) return t.date(label);
  }
  const length = Array.from(value).length;
  const minLength = limit(rules, "minLength");
  if (minLength !== undefined && length < minLength) return t.minLength(label, minLength);
  const maxLength = limit(rules, "maxLength");
  if (maxLength !== undefined && length > maxLength) return t.maxLength(label, maxLength);
  const pattern = regex(rules);
  if (pattern && !pattern.test(value)) return t.pattern(label);
  if (own(rules, "email") === true && !EMAIL.test(value)) return t.email(label);
  const options = own(rules, "options");
  if (Array.isArray(options) && options.length > 0 && !options.some((o) => String(o) === value)) {
    return t.options(label);
  }
  return null;
}

/** Messages by field key for every invalid field (empty when the form is valid). */
export function validateModel(model: ModelData, values: RawValues): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const field of model.fields) {
    const message = validateField(field, values[field.key]);
    if (message !== null) errors[field.key] = message;
  }
  return errors;
}

/** The stored form of a valid raw value. */
export function convert(field: FieldData, raw: RawValue | undefined): StoredValue {
  if (field.type === "boolean") return raw === true;
  const value = typeof raw === "string" ? raw : "";
  if (value.trim() === "") return null;
  return field.type === "number" ? Number(value) : value;
}

/** The options a field offers (from its `validation.options`), as text. */
export function optionsOf(field: FieldData): string[] {
  const options = own(field.validation, "options");
  return Array.isArray(options) ? options.map((o) => String(o)) : [];
}

/** The raw (form) value of a stored value. */
export function toRaw(field: FieldData, value: unknown): RawValue {
  if (field.type === "boolean") return value === true;
  return value === null || value === undefined ? "" : String(value);
}

/** The field a stand-alone input component edits, described by its props. */
export function fieldFromProps(props: JsonObject, kind: string): FieldData {
  const type =
    kind === "Checkbox" || kind === "Switch"
      ? "boolean"
      : kind === "DatePicker"
        ? "date"
        : kind === "Slider" || own(props, "type") === "number"
          ? "number"
          : "string";
  const validation = own(props, "validation");
  const options = own(props, "options");
  return {
    name: text(props, "label", "name", "placeholder", "title") ?? "",
    key: "value",
    type,
    required: own(props, "required") === true,
    validation:
      validation !== undefined && validation !== null
        ? validation
        : Array.isArray(options)
          ? { options }
          : null,
  };
}
