// A store of one data model's records, kept in the browser's localStorage: list, create, update,
// delete, and change notifications (also across tabs).
import { appData } from "./app-data";

export interface StoredRecord<T> {
  id: string;
  values: T;
}

export interface Store<T> {
  /** The records, oldest first (the same array until something changes). */
  list(): StoredRecord<T>[];
  create(values: T): StoredRecord<T>;
  update(id: string, values: T): boolean;
  remove(id: string): boolean;
  subscribe(listener: () => void): () => void;
}

export type AnyValues = Record<string, unknown>;
export type AnyStore = Store<AnyValues>;

const EMPTY: never[] = [];

function newId(): string {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === "function") return c.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

export function createStore<T>(modelIndex: number): Store<T> {
  const model = appData.models[modelIndex];
  const key = `${appData.storagePrefix}:${model ? model.key : modelIndex}`;
  const listeners = new Set<() => void>();
  let cache: StoredRecord<T>[] | null = null;

  const storage = (): Storage | null => {
    try {
      return typeof window === "undefined" ? null : window.localStorage;
    } catch {
      return null;
    }
  };

  const read = (): StoredRecord<T>[] => {
    const s = storage();
    if (!s) return EMPTY;
    try {
      const parsed: unknown = JSON.parse(s.getItem(key) ?? "[]");
      return Array.isArray(parsed)
        ? parsed.filter(
            (r): r is StoredRecord<T> =>
              typeof r === "object" && r !== null && typeof r.id === "string" && typeof r.values === "object",
          )
        : [];
    } catch {
      return [];
    }
  };

  const changed = () => {
    cache = null;
    listeners.forEach((l) => l());
  };

  const write = (records: StoredRecord<T>[]) => {
    storage()?.setItem(key, JSON.stringify(records));
    changed();
  };

  if (typeof window !== "undefined") {
    window.addEventListener("storage", (e) => {
      if (e.key === key) changed();
    });
  }

  return {
    list() {
      if (cache === null) cache = read();
      return cache;
    },
    create(values) {
      const record = { id: newId(), values };
      write([...this.list(), record]);
      return record;
    },
    update(id, values) {
      const records = this.list();
      if (!records.some((r) => r.id === id)) return false;
      write(records.map((r) => (r.id === id ? { id, values } : r)));
      return true;
    },
    remove(id) {
      const records = this.list();
      const rest = records.filter((r) => r.id !== id);
      if (rest.length === records.length) return false;
      write(rest);
      return true;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
  };
}
