"use client";
// Form: edits a record of the data model it names (validated field by field), then runs its flow.
import { useState } from "react";
import { appData, modelIndexOf } from "@/lib/app";
import { useAppState, useFlow } from "@/lib/hooks";
import { t } from "@/lib/i18n";
import { getState, setState } from "@/lib/state";
import { stores } from "@/lib/stores";
import type { ModelData, NodeData } from "@/lib/types";
import { text } from "@/lib/types";
import type { RawValues } from "@/lib/validation";
import { convert, toRaw, validateModel } from "@/lib/validation";
import Children from "./Children";
import FieldControl from "./FieldControl";

function empty(model: ModelData | undefined): RawValues {
  const values: RawValues = {};
  for (const f of model?.fields ?? []) values[f.key] = f.type === "boolean" ? false : "";
  return values;
}

export default function Form({ node }: { node: NodeData }) {
  const index = modelIndexOf(node);
  const model = index >= 0 ? appData.models[index] : undefined;
  const store = index >= 0 ? stores[index] : undefined;
  const run = useFlow(node);
  useAppState();
  const editingKey = model ? `editing:${model.key}` : "";
  const editing = model ? getState(editingKey) : undefined;
  const [loaded, setLoaded] = useState<string | null>(null);
  const [values, setValues] = useState<RawValues>(() => empty(model));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [saved, setSaved] = useState(false);

  if (model && store && typeof editing === "string" && editing !== loaded) {
    const record = store.list().find((r) => r.id === editing);
    if (record) {
      const raw: RawValues = {};
      for (const f of model.fields) raw[f.key] = toRaw(f, record.values[f.key]);
      setValues(raw);
      setErrors({});
    }
    setLoaded(editing);
  }

  const submit = (e: { preventDefault: () => void }) => {
    e.preventDefault();
    if (model && store) {
      const found = validateModel(model, values);
      setErrors(found);
      if (Object.keys(found).length > 0) return;
      const record: Record<string, unknown> = {};
      for (const f of model.fields) record[f.key] = convert(f, values[f.key]);
      if (typeof editing === "string" && store.update(editing, record)) setState(editingKey, null);
      else store.create(record);
      setValues(empty(model));
      setLoaded(null);
      setSaved(true);
    }
    run?.();
  };

  return (
    <form className="card" onSubmit={submit} noValidate>
      {model?.fields.map((f) => (
        <FieldControl
          key={f.key}
          field={f}
          value={values[f.key]}
          error={errors[f.key] ?? null}
          onChange={(v) => {
            setValues({ ...values, [f.key]: v });
            setSaved(false);
          }}
        />
      ))}
      <Children nodes={node.children} />
      <button type="submit" className="button">
        {text(node.props, "submitLabel", "submitText", "label") ?? t.save}
      </button>
      {saved && <span className="muted">{t.saved}</span>}
    </form>
  );
}
