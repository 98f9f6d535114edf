"use client";
import type { NodeData } from "@/lib/types";
import ComponentNode from "./ComponentNode";

export default function Children({ nodes }: { nodes: NodeData[] }) {
  return (
    <>
      {nodes.map((node, i) => (
        <ComponentNode key={i} node={node} />
      ))}
    </>
  );
}
