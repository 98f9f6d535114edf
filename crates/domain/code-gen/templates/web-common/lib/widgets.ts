// Data behind the Chart and Quiz components, the same for every framework.
import type { StoredRecord } from "./store";
import type { JsonObject, ModelData } from "./types";
import { num, own, text } from "./types";

export interface Bar {
  label: string;
  value: number;
  /** Height in percent of the tallest bar. */
  height: number;
}

/** Bars for the numbers in a chart's `data` (or `values`) prop: plain numbers or {label, value}. */
export function chartBars(props: JsonObject): Bar[] {
  const raw = own(props, "data") ?? own(props, "values");
  const bars = (Array.isArray(raw) ? raw : []).map((item, i) =>
    typeof item === "number"
      ? { label: String(i + 1), value: item }
      : item !== null && typeof item === "object" && !Array.isArray(item)
        ? { label: text(item, "label", "name") ?? String(i + 1), value: num(item, "value", "y") ?? 0 }
        : { label: String(i + 1), value: Number(item) || 0 },
  );
  const max = Math.max(1, ...bars.map((b) => b.value));
  return bars.map((b) => ({ ...b, height: (Math.max(0, b.value) / max) * 100 }));
}

export interface QuizCard {
  question: string;
  answer: string;
}

/** A quiz's cards: from its model's records (first text field asks, the second answers) or from
 * its `questions` prop, at most `questionCount` of them. */
export function quizDeck(
  props: JsonObject,
  model: ModelData | undefined,
  records: StoredRecord<Record<string, unknown>>[],
): QuizCard[] {
  const keys = (model?.fields ?? []).filter((f) => f.type === "string").map((f) => f.key);
  const fromProps = own(props, "questions");
  const cards = model
    ? records.map((r) => ({ question: String(r.values[keys[0]] ?? ""), answer: String(r.values[keys[1]] ?? "") }))
    : Array.isArray(fromProps)
      ? fromProps.map((q) =>
          q !== null && typeof q === "object" && !Array.isArray(q)
            ? { question: text(q, "question", "q", "text") ?? "", answer: text(q, "answer", "a") ?? "" }
            : { question: String(q), answer: "" },
        )
      : [];
  const limit = num(props, "questionCount", "count");
  return limit !== undefined && limit >= 0 ? cards.slice(0, limit) : cards;
}
