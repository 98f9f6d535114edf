"use client";
// Progress: its `value` out of `max` (default 100).
import type { NodeData } from "@/lib/types";
import { num, text } from "@/lib/types";

export default function Progress({ node }: { node: NodeData }) {
  const max = Math.max(1, num(node.props, "max", "total") ?? 100);
  const value = Math.min(max, Math.max(0, num(node.props, "value", "progress", "percent") ?? 0));
  return (
    <label className="field">
      <span>{text(node.props, "label", "title") ?? ""}</span>
      <progress className="progress" value={value} max={max} />
    </label>
  );
}
