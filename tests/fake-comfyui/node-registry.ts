/**
 * The node classes the fake knows: their `/object_info` definitions and the facts validation
 * and execution need (inputs, return types, whether the node is an output).
 */
import {
  FAKE_SAMPLER_DEFINITION,
  MODEL_LOADER_DEFINITIONS,
  MODEL_LOADER_FOLDERS,
  RECORDED_NODE_DEFINITIONS,
  type NodeDefinition,
} from "./node-definitions.ts";
import type { JsonValue } from "./py-json.ts";

export interface InputSpec {
  name: string;
  category: "required" | "optional";
  /** "INT", "IMAGE", … or the option list of a combo input. */
  type: string | JsonValue[];
  config: { [key: string]: JsonValue };
}

const DEFINITIONS: Record<string, NodeDefinition> = {
  ...RECORDED_NODE_DEFINITIONS,
  FakeSampler: FAKE_SAMPLER_DEFINITION,
  ...MODEL_LOADER_DEFINITIONS,
};

export function isKnownClass(classType: string): boolean {
  return Object.hasOwn(DEFINITIONS, classType);
}

export function nodeClassNames(): string[] {
  return Object.keys(DEFINITIONS);
}

function objectAt(value: JsonValue | undefined): { [key: string]: JsonValue } {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? value : {};
}

/**
 * The definition as `/object_info` shows it; LoadImage lists the given input files, the model
 * loaders the installed models of their folder (`modelFiles`: folder → names).
 */
export function nodeDefinition(classType: string, loadImageOptions: string[], modelFiles: Record<string, string[]> = {}): NodeDefinition | undefined {
  const definition = DEFINITIONS[classType];
  if (definition === undefined) return undefined;
  const loader = MODEL_LOADER_FOLDERS[classType];
  if (classType !== "LoadImage" && loader === undefined) return structuredClone(definition);
  const copy = structuredClone(definition);
  const required = objectAt(objectAt(copy.input).required);
  if (loader !== undefined) {
    const spec = required[loader.input] as JsonValue[];
    spec[0] = [...(modelFiles[loader.folder] ?? [])].sort();
  } else {
    required.image = [loadImageOptions, { image_upload: true }];
  }
  return copy;
}

export function isOutputNode(classType: string): boolean {
  return DEFINITIONS[classType]?.output_node === true;
}

export function returnTypes(classType: string): string[] {
  const output = DEFINITIONS[classType]?.output;
  return Array.isArray(output) ? output.map(String) : [];
}

/** Required inputs first, then optional ones, each in `input_order`. */
export function inputSpecs(classType: string, loadImageOptions: string[], modelFiles: Record<string, string[]> = {}): InputSpec[] {
  const definition = nodeDefinition(classType, loadImageOptions, modelFiles);
  if (definition === undefined) return [];
  const input = objectAt(definition.input);
  const specs: InputSpec[] = [];
  for (const category of ["required", "optional"] as const) {
    for (const [name, raw] of Object.entries(objectAt(input[category]))) {
      const tuple = Array.isArray(raw) ? raw : [];
      const type = tuple[0];
      specs.push({
        name,
        category,
        type: Array.isArray(type) ? type : String(type),
        config: objectAt(tuple[1]),
      });
    }
  }
  return specs;
}
