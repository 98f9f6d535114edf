"use client";
// Quiz: one question at a time from the records of its data model (first text field asks, the
// second answers), or from a `questions` prop.
import { useState } from "react";
import { appData, modelIndexOf } from "@/lib/app";
import { useRecords } from "@/lib/hooks";
import { t } from "@/lib/i18n";
import { stores } from "@/lib/stores";
import type { NodeData } from "@/lib/types";
import { quizDeck } from "@/lib/widgets";

export default function Quiz({ node }: { node: NodeData }) {
  const index = modelIndexOf(node);
  const model = index >= 0 ? appData.models[index] : undefined;
  const records = useRecords(index >= 0 ? stores[index] : undefined);
  const [at, setAt] = useState(0);
  const [shown, setShown] = useState(false);
  const deck = quizDeck(node.props, model, records);
  if (deck.length === 0) return <div className="card muted">{t.empty}</div>;
  const card = deck[at % deck.length];
  return (
    <div className="card">
      <strong>
        {(at % deck.length) + 1} / {deck.length}
      </strong>
      <div>{card.question}</div>
      {shown && <div className="muted">{card.answer}</div>}
      <div className="row">
        <button type="button" className="button secondary" onClick={() => setShown(true)}>
          {t.showAnswer}
        </button>
        <button
          type="button"
          className="button"
          onClick={() => {
            setAt(at + 1);
            setShown(false);
          }}
        >
          {t.next}
        </button>
      </div>
    </div>
  );
}
