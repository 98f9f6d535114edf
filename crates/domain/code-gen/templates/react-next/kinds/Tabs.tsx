"use client";
// Tabs: one tab per child (labelled by its title, label or name).
import { useState } from "react";
import type { NodeData } from "@/lib/types";
import { text } from "@/lib/types";
import ComponentNode from "./ComponentNode";

export default function Tabs({ node }: { node: NodeData }) {
  const [active, setActive] = useState(0);
  const current = node.children[Math.min(active, node.children.length - 1)];
  return (
    <div className="column">
      <div className="tabs-bar" role="tablist">
        {node.children.map((child, i) => (
          <button key={i} type="button" role="tab" aria-selected={i === active} onClick={() => setActive(i)}>
            {text(child.props, "title", "label", "name") ?? String(i + 1)}
          </button>
        ))}
      </div>
      {current && <ComponentNode node={current} />}
    </div>
  );
}
