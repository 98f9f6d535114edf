"use client";
// [[ kind ]]: the records of the data model it names, with edit and delete.
import { appData, modelIndexOf } from "@/lib/app";
import { useRecords } from "@/lib/hooks";
import { t } from "@/lib/i18n";
import { setState } from "@/lib/state";
import { stores } from "@/lib/stores";
import type { NodeData } from "@/lib/types";
import { own } from "@/lib/types";
import Children from "./Children";

function show(value: unknown): string {
  return value === null || value === undefined ? "" : String(value);
}

function RecordActions({ onEdit, onRemove }: { onEdit: () => void; onRemove: () => void }) {
  return (
    <span>
      <button type="button" className="link" onClick={onEdit}>
        {t.edit}
      </button>{" "}
      <button type="button" className="link" onClick={onRemove}>
        {t.remove}
      </button>
    </span>
  );
}

export default function [[ kind ]]({ node }: { node: NodeData }) {
  const index = modelIndexOf(node);
  const model = index >= 0 ? appData.models[index] : undefined;
  const store = index >= 0 ? stores[index] : undefined;
  const records = useRecords(store);
  const items = own(node.props, "items");
  if (!model || !store) {
    return (
      <div className="column">
        <ul className="list">
          {Array.isArray(items) && items.map((item, i) => <li key={i}>{typeof item === "string" ? item : JSON.stringify(item)}</li>)}
        </ul>
        <Children nodes={node.children} />
      </div>
    );
  }
  const edit = (id: string) => setState(`editing:${model.key}`, id);
  if (records.length === 0) return <div className="muted">{t.empty}</div>;
[% if kind == "Table" %]  return (
    <table className="table">
      <thead>
        <tr>
          {model.fields.map((f) => (
            <th key={f.key}>{f.name}</th>
          ))}
          <th />
        </tr>
      </thead>
      <tbody>
        {records.map((r) => (
          <tr key={r.id}>
            {model.fields.map((f) => (
              <td key={f.key}>{show(r.values[f.key])}</td>
            ))}
            <td>
              <RecordActions onEdit={() => edit(r.id)} onRemove={() => store.remove(r.id)} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
[% else %]  return (
    <ul className="list">
      {records.map((r) => (
        <li key={r.id}>
          <span>
            {model.fields
              .map((f) => show(r.values[f.key]))
              .filter((v) => v !== "")
              .join(" · ")}
          </span>
          <RecordActions onEdit={() => edit(r.id)} onRemove={() => store.remove(r.id)} />
        </li>
      ))}
    </ul>
  );
[% endif %]}
