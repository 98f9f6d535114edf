"use client";
// Modal: a button that opens its children in a dialog.
import { useState } from "react";
import { t } from "@/lib/i18n";
import type { NodeData } from "@/lib/types";
import { text } from "@/lib/types";
import Children from "./Children";

export default function Modal({ node }: { node: NodeData }) {
  const [open, setOpen] = useState(false);
  const title = text(node.props, "title", "label") ?? "";
  return (
    <>
      <button type="button" className="button" onClick={() => setOpen(true)}>
        {text(node.props, "buttonLabel", "trigger") ?? (title || t.open)}
      </button>
      {open && (
        <div className="modal-backdrop" onClick={() => setOpen(false)}>
          <div className="modal" role="dialog" aria-modal="true" onClick={(e) => e.stopPropagation()}>
            <strong>{title}</strong>
            <Children nodes={node.children} />
            <button type="button" className="button secondary" onClick={() => setOpen(false)}>
              {t.close}
            </button>
          </div>
        </div>
      )}
    </>
  );
}
