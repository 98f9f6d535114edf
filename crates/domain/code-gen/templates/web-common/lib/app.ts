// Look-ups into the app data: pages by path or id, data models and flows by id or name.
import { appData } from "./app-data";
import type { FlowData, Json, ModelData, NodeData, PageData } from "./types";
import { own } from "./types";

export { appData };

/** Props that name a data model, a flow, or a page. */
export const MODEL_PROPS = ["dataModel", "model"];
export const FLOW_PROPS = ["onClick", "flow", "flowId"];
export const NAVIGATE_KEYS = ["to", "path", "pageId"];

/** The page a reference (a path or a page id) names. */
export function findPage(ref: Json | undefined): PageData | undefined {
  if (typeof ref !== "string") return undefined;
  return appData.pages.find((p) => p.path === ref) ?? appData.pages.find((p) => p.id === ref);
}

/** The index of the data model a component names (by id, then by name), or -1. */
export function modelIndexOf(node: NodeData): number {
  for (const key of MODEL_PROPS) {
    const ref = own(node.props, key);
    if (typeof ref !== "string") continue;
    const byId = appData.models.findIndex((m) => m.id === ref);
    if (byId >= 0) return byId;
    const byName = appData.models.findIndex((m) => m.name === ref);
    if (byName >= 0) return byName;
  }
  return -1;
}

export function modelOf(node: NodeData): ModelData | undefined {
  const i = modelIndexOf(node);
  return i >= 0 ? appData.models[i] : undefined;
}

/** The flow a component runs when used (first of its flow props naming a flow). */
export function flowOf(node: NodeData): FlowData | undefined {
  for (const key of FLOW_PROPS) {
    const ref = own(node.props, key);
    if (typeof ref !== "string") continue;
    const flow = appData.flows.find((f) => f.id === ref);
    if (flow) return flow;
  }
  return undefined;
}
