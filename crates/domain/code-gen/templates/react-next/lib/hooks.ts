"use client";
// React bindings: records of a store, flow runs that navigate with the Next router, app state.
import { useRouter } from "next/navigation";
import { useCallback, useSyncExternalStore } from "react";
import { flowOf } from "./app";
import { runFlow } from "./flows";
import { stateVersion, subscribeState } from "./state";
import type { AnyStore, StoredRecord, AnyValues } from "./store";
import type { NodeData } from "./types";

const NO_RECORDS: StoredRecord<AnyValues>[] = [];
const noSubscription = () => () => {};

export function useRecords(store: AnyStore | undefined): StoredRecord<AnyValues>[] {
  return useSyncExternalStore(
    store ? store.subscribe : noSubscription,
    () => (store ? store.list() : NO_RECORDS),
    () => NO_RECORDS,
  );
}

/** Re-renders when a flow changes the app state. */
export function useAppState(): number {
  return useSyncExternalStore(subscribeState, stateVersion, () => 0);
}

/** A click handler that runs the flow the component names (undefined when it names none). */
export function useFlow(node: NodeData): (() => void) | undefined {
  const router = useRouter();
  const flow = flowOf(node);
  const run = useCallback(() => {
    if (flow) runFlow(flow, (route) => router.push(route));
  }, [flow, router]);
  return flow ? run : undefined;
}
