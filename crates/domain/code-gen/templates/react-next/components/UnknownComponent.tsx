"use client";
// A component whose type has no renderer: shown, with its children, never dropped.
import { t } from "@/lib/i18n";
import type { NodeData } from "@/lib/types";
import { text } from "@/lib/types";
import Children from "./Children";

export default function UnknownComponent({ node }: { node: NodeData }) {
  const label = text(node.props, "text", "title", "label", "content");
  return (
    <div className="unknown" data-component-type={node.type}>
      <strong>{t.unknown(node.type)}</strong>
      {label !== undefined && <span>{label}</span>}
      <Children nodes={node.children} />
    </div>
  );
}
