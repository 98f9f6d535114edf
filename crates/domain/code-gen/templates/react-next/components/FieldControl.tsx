"use client";
// The input for one field: its kind of control, its label, and its validation message.
import type { FieldData } from "@/lib/types";
import type { RawValue } from "@/lib/validation";
import { optionsOf } from "@/lib/validation";

export interface FieldControlProps {
  field: FieldData;
  /** The control to use (Input, Textarea, Checkbox, Select, DatePicker, Switch, Slider). */
  control?: string;
  value: RawValue;
  error: string | null;
  placeholder?: string;
  onChange: (value: RawValue) => void;
}

function controlFor(field: FieldData, control: string | undefined): string {
  if (control && control !== "Input") return control;
  if (field.type === "boolean") return "Checkbox";
  if (field.type === "date") return "DatePicker";
  if (optionsOf(field).length > 0) return "Select";
  return "Input";
}

export default function FieldControl({ field, control, value, error, placeholder, onChange }: FieldControlProps) {
  const kind = controlFor(field, control);
  const text = typeof value === "string" ? value : "";
  let input;
  if (kind === "Checkbox" || kind === "Switch") {
    input = (
      <input
        type="checkbox"
        role={kind === "Switch" ? "switch" : undefined}
        checked={value === true}
        onChange={(e) => onChange(e.target.checked)}
      />
    );
  } else if (kind === "Textarea") {
    input = <textarea value={text} placeholder={placeholder} onChange={(e) => onChange(e.target.value)} />;
  } else if (kind === "Select") {
    input = (
      <select value={text} onChange={(e) => onChange(e.target.value)}>
        <option value="">—</option>
        {optionsOf(field).map((o, i) => (
          <option key={i} value={o}>
            {o}
          </option>
        ))}
      </select>
    );
  } else {
    const type =
      kind === "DatePicker" ? "date" : kind === "Slider" ? "range" : field.type === "number" ? "number" : "text";
    input = <input type={type} value={text} placeholder={placeholder} onChange={(e) => onChange(e.target.value)} />;
  }
  return (
    <label className="field">
      <span>
        {field.name}
        {field.required ? " *" : ""}
      </span>
      {input}
      {error !== null && <span className="field-error">{error}</span>}
    </label>
  );
}
