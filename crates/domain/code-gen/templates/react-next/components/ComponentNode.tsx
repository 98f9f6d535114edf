"use client";
// Renders one spec component with the component of its kind (UnknownComponent for the rest).
import type { ComponentType } from "react";
import type { NodeData } from "@/lib/types";
import UnknownComponent from "./UnknownComponent";
[% for kind in plan.kinds %]import [[ kind ]] from "./[[ kind ]]";
[% endfor %]
const kinds: Record<string, ComponentType<{ node: NodeData }>> = {
[% for kind in plan.kinds %]  [[ kind ]],
[% endfor %]};

export default function ComponentNode({ node }: { node: NodeData }) {
  const Kind = Object.prototype.hasOwnProperty.call(kinds, node.kind) ? kinds[node.kind] : UnknownComponent;
  return <Kind node={node} />;
}
