// Runs a flow's actions: navigate (to a page by path or id), setState, and api (recorded as state).
import { findPage, NAVIGATE_KEYS } from "./app";
import { setState } from "./state";
import type { FlowData } from "./types";
import { own } from "./types";

export function runFlow(flow: FlowData, navigate: (route: string) => void): void {
  for (const action of flow.actions) {
    if (action.type === "navigate") {
      for (const key of NAVIGATE_KEYS) {
        const page = findPage(own(action.config, key));
        if (page) {
          navigate(page.route);
          return;
        }
      }
    } else if (action.type === "setState") {
      const key = own(action.config, "key");
      if (typeof key === "string") setState(key, own(action.config, "value") ?? null);
    } else if (action.type === "api") {
      setState("lastApiCall", action.config);
    }
  }
}
