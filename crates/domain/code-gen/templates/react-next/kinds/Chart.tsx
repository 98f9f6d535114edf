"use client";
// Chart: bars for the numbers in its `data` prop (plain numbers or {label, value}).
import type { NodeData } from "@/lib/types";
import { num, own, text } from "@/lib/types";

export default function Chart({ node }: { node: NodeData }) {
  const raw = own(node.props, "data") ?? own(node.props, "values");
  const bars = (Array.isArray(raw) ? raw : []).map((item, i) =>
    typeof item === "number"
      ? { label: String(i + 1), value: item }
      : item !== null && typeof item === "object" && !Array.isArray(item)
        ? { label: text(item, "label", "name") ?? String(i + 1), value: num(item, "value", "y") ?? 0 }
        : { label: String(i + 1), value: Number(item) || 0 },
  );
  const max = Math.max(1, ...bars.map((b) => b.value));
  return (
    <figure className="card">
      <figcaption>{text(node.props, "title", "label") ?? ""}</figcaption>
      <div className="chart">
        {bars.map((b, i) => (
          <div key={i} className="chart-bar" title={`${b.label}: ${b.value}`} style={{ height: `${(Math.max(0, b.value) / max) * 100}%` }} />
        ))}
      </div>
    </figure>
  );
}
