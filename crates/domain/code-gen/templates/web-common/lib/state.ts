// App state set by flows' setState actions: a small observable map kept for the session.
import type { Json } from "./types";

const values = new Map<string, Json>();
const listeners = new Set<() => void>();
let version = 0;

export function setState(key: string, value: Json): void {
  values.set(key, value);
  version += 1;
  listeners.forEach((l) => l());
}

export function getState(key: string): Json | undefined {
  return values.get(key);
}

export function stateVersion(): number {
  return version;
}

export function subscribeState(listener: () => void): () => void {
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
  };
}
