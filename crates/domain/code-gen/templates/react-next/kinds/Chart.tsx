"use client";
// Chart: bars for the numbers in its `data` prop (plain numbers or {label, value}).
import type { NodeData } from "@/lib/types";
import { text } from "@/lib/types";
import { chartBars } from "@/lib/widgets";

export default function Chart({ node }: { node: NodeData }) {
  return (
    <figure className="card">
      <figcaption>{text(node.props, "title", "label") ?? ""}</figcaption>
      <div className="chart">
        {chartBars(node.props).map((b, i) => (
          <div key={i} className="chart-bar" title={`${b.label}: ${b.value}`} style={{ height: `${b.height}%` }} />
        ))}
      </div>
    </figure>
  );
}
