// Vue bindings: records of a store, app state changes, and flow runs that navigate with the router.
import { onScopeDispose, shallowRef, type Ref } from "vue";
import { useRouter } from "vue-router";
import { flowOf } from "./app";
import { runFlow } from "./flows";
import { stateVersion, subscribeState } from "./state";
import type { AnyStore, AnyValues, StoredRecord } from "./store";
import type { NodeData } from "./types";

export function useRecords(store: AnyStore | undefined): Ref<StoredRecord<AnyValues>[]> {
  const records = shallowRef<StoredRecord<AnyValues>[]>(store ? store.list() : []);
  if (store) onScopeDispose(store.subscribe(() => (records.value = store.list())));
  return records;
}

/** A counter that changes whenever a flow changes the app state. */
export function useAppState(): Ref<number> {
  const version = shallowRef(stateVersion());
  onScopeDispose(subscribeState(() => (version.value = stateVersion())));
  return version;
}

/** A click handler that runs the flow the component names (undefined when it names none). */
export function useFlow(node: NodeData): (() => void) | undefined {
  const router = useRouter();
  const flow = flowOf(node);
  return flow ? () => runFlow(flow, (route) => void router.push(route)) : undefined;
}
