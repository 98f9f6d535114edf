"use client";
// Timer: counts down from its `seconds` prop.
import { useEffect, useState } from "react";
import { t } from "@/lib/i18n";
import type { NodeData } from "@/lib/types";
import { num } from "@/lib/types";

export default function Timer({ node }: { node: NodeData }) {
  const total = Math.max(0, Math.floor(num(node.props, "seconds", "duration", "time") ?? 60));
  const [left, setLeft] = useState(total);
  const [running, setRunning] = useState(false);
  useEffect(() => {
    if (!running) return;
    const id = setInterval(() => setLeft((s) => (s > 0 ? s - 1 : 0)), 1000);
    return () => clearInterval(id);
  }, [running]);
  const mm = String(Math.floor(left / 60)).padStart(2, "0");
  const ss = String(left % 60).padStart(2, "0");
  return (
    <div className="card">
      <span className="timer">
        {mm}:{ss}
      </span>
      <div className="row">
        <button type="button" className="button" onClick={() => setRunning(true)}>
          {t.start}
        </button>
        <button
          type="button"
          className="button secondary"
          onClick={() => {
            setRunning(false);
            setLeft(total);
          }}
        >
          {t.reset}
        </button>
      </div>
    </div>
  );
}
