"use client";
// Divider: a horizontal rule.
import type { NodeData } from "@/lib/types";

export default function Divider({ node }: { node: NodeData }) {
  return <hr className="divider" data-id={node.id} />;
}
