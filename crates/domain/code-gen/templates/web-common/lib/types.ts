// The shape of the app data (see app-data.ts): everything the app spec says, as plain data.
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface NodeData {
  id: string;
  /** The component type the spec asked for. */
  type: string;
  /** The component that renders it ("Unknown" for types without one). */
  kind: string;
  props: JsonObject;
  children: NodeData[];
}

export interface PageData {
  id: string;
  name: string;
  path: string;
  route: string;
  components: NodeData[];
}

export interface FieldData {
  name: string;
  key: string;
  type: string;
  required: boolean;
  validation: Json;
}

export interface ModelData {
  id: string;
  name: string;
  key: string;
  fields: FieldData[];
}

export interface ActionData {
  type: string;
  config: JsonObject;
}

export interface FlowData {
  id: string;
  name: string;
  trigger: Json;
  actions: ActionData[];
}

export interface AppData {
  appName: string;
  lang: string;
  storagePrefix: string;
  home: number;
  pages: PageData[];
  models: ModelData[];
  flows: FlowData[];
}

/** An own property of a JSON object (never one inherited from Object.prototype). */
export function own(obj: Json | undefined, key: string): Json | undefined {
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) return undefined;
  return Object.prototype.hasOwnProperty.call(obj, key) ? obj[key] : undefined;
}

/** The first of `keys` whose value is text (or a number), as text. */
export function text(props: JsonObject, ...keys: string[]): string | undefined {
  for (const key of keys) {
    const value = own(props, key);
    if (typeof value === "string") return value;
    if (typeof value === "number" || typeof value === "boolean") return String(value);
  }
  return undefined;
}

/** The first of `keys` whose value is a finite number (or numeric text). */
export function num(props: JsonObject, ...keys: string[]): number | undefined {
  for (const key of keys) {
    const value = own(props, key);
    const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
    if (typeof n === "number" && Number.isFinite(n)) return n;
  }
  return undefined;
}

/** A URL that is safe to put in src/href: http(s), relative, or an image data URL. */
export function safeUrl(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^(https?:)?\/\//i.test(v) || /^data:image\//i.test(v)) return v;
  if (/^[a-z][a-z0-9+.-]*:/i.test(v)) return undefined;
  return v;
}
