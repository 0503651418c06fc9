/**
 * Pure planning for a prompt run: which nodes are cached (same class and inputs, recursively,
 * as in the previous prompt), the order nodes run in, and what of extra_data history keeps.
 */
import type { JsonObject, PromptGraph, PromptNode } from "./prompt-validation.ts";

/** Keys of extra_data that never reach history (spec §3.1). */
export const SENSITIVE_EXTRA_KEYS = ["auth_token_comfy_org", "api_key_comfy_org"];

export function isLink(value: unknown, graph: PromptGraph): value is [string, number] {
  return Array.isArray(value) && value.length === 2 && typeof value[0] === "string" && Object.hasOwn(graph, value[0]);
}

export function computeSignatures(graph: PromptGraph): Map<string, string> {
  const signatures = new Map<string, string>();
  const visit = (nodeId: string): string => {
    const known = signatures.get(nodeId);
    if (known !== undefined) return known;
    signatures.set(nodeId, "(cycle)");
    const node = graph[nodeId] as PromptNode;
    const inputs = Object.entries(node.inputs ?? {})
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, value]) =>
        isLink(value, graph) ? `${name}=link(${visit(value[0])}#${value[1]})` : `${name}=${JSON.stringify(value)}`,
      );
    const signature = `${node.class_type}{${inputs.join(",")}}`;
    signatures.set(nodeId, signature);
    return signature;
  };
  for (const nodeId of Object.keys(graph)) visit(nodeId);
  return signatures;
}

/** Outputs first-to-last, each after its inputs; cached nodes do not pull in their inputs. */
export function executionOrder(graph: PromptGraph, outputs: string[], isCached: (id: string) => boolean): string[] {
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (nodeId: string): void => {
    if (seen.has(nodeId)) return;
    seen.add(nodeId);
    if (!isCached(nodeId)) {
      for (const value of Object.values((graph[nodeId] as PromptNode).inputs ?? {})) {
        if (isLink(value, graph) && !isCached(value[0])) visit(value[0]);
      }
    }
    order.push(nodeId);
  };
  for (const output of outputs) if (Object.hasOwn(graph, output)) visit(output);
  return order;
}

export function withoutSensitiveKeys(extra: JsonObject): JsonObject {
  return Object.fromEntries(Object.entries(extra).filter(([key]) => !SENSITIVE_EXTRA_KEYS.includes(key)));
}
