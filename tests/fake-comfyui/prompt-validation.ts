/**
 * `POST /prompt` validation with the error shapes of ComfyUI 0.3.64 (spec §3.1, fixtures
 * su-024 … su-030, su-039): the first unknown or class-less node stops everything
 * (`invalid_prompt`), then each output node is validated with its inputs; outputs that fail are
 * reported in `node_errors` and the prompt is refused only when no output is left.
 */
import type { JsonValue } from "./py-json.ts";
import { inputSpecs, isKnownClass, isOutputNode, returnTypes, type InputSpec } from "./node-registry.ts";
import { fakeTraceback, pyFloat, pyFloatStr, pyInt, pyRepr, pyStr, pyTruthy, PythonError } from "./python-values.ts";

export type JsonObject = { [key: string]: JsonValue };

export interface PromptNode {
  class_type: string;
  inputs: JsonObject;
  [key: string]: JsonValue;
}

export type PromptGraph = Record<string, PromptNode>;

export interface ValidationError {
  type: string;
  message: string;
  details: string;
  extra_info: JsonObject;
}

export interface NodeErrorEntry {
  errors: ValidationError[];
  dependent_outputs: string[];
  class_type: string;
}

export type ValidationResult =
  | { ok: true; outputs: string[]; nodeErrors: Record<string, NodeErrorEntry> }
  | { ok: false; error: ValidationError; nodeErrors: Record<string, NodeErrorEntry> };

/** What validation needs to know about the world outside the graph. */
export interface ValidationContext {
  loadImageOptions: string[];
  /** Installed model files by folder (the loaders' option lists). */
  modelFiles?: Record<string, string[]>;
  inputFileExists(annotatedName: string): boolean;
}

interface NodeVerdict {
  valid: boolean;
  reasons: ValidationError[];
}

/** Tracebacks are server internals (finding 8); the fake shows a placeholder one. */
function validationTraceback(): string[] {
  return fakeTraceback(["execution.py", "validate_prompt"], ["execution.py", "validate_inputs"]);
}

function invalidPrompt(message: string, nodeId: string): ValidationResult {
  return {
    ok: false,
    error: { type: "invalid_prompt", message, details: `Node ID '#${nodeId}'`, extra_info: {} },
    nodeErrors: {},
  };
}

function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Converts a literal input value the way `validate_inputs` does before checking ranges. */
function convertLiteral(spec: InputSpec, value: JsonValue): JsonValue {
  switch (spec.type) {
    case "INT":
      return pyInt(value);
    case "FLOAT":
      return pyFloat(value);
    case "STRING":
      return pyStr(value);
    case "BOOLEAN":
      return pyTruthy(value);
    default:
      return value;
  }
}

function formatForMessage(spec: InputSpec, value: JsonValue): string {
  if (spec.type === "FLOAT" && typeof value === "number") return pyFloatStr(value);
  return pyStr(value);
}

class PromptValidator {
  private readonly verdicts = new Map<string, NodeVerdict>();

  constructor(
    private readonly prompt: PromptGraph,
    private readonly context: ValidationContext,
  ) {}

  validateNode(nodeId: string): NodeVerdict {
    const known = this.verdicts.get(nodeId);
    if (known !== undefined) return known;
    const node = this.prompt[nodeId] as PromptNode;
    const inputs = isObject(node.inputs) ? node.inputs : {};
    const errors: ValidationError[] = [];
    let valid = true;
    for (const spec of inputSpecs(node.class_type, this.context.loadImageOptions, this.context.modelFiles)) {
      const name = spec.name;
      const inputConfig: JsonValue = [spec.type, spec.config];
      if (!Object.hasOwn(inputs, name)) {
        if (spec.category === "required") {
          errors.push({
            type: "required_input_missing",
            message: "Required input is missing",
            details: name,
            extra_info: { input_name: name },
          });
        }
        continue;
      }
      const value = inputs[name] as JsonValue;
      if (Array.isArray(value)) {
        const linked = this.checkLink(name, spec, inputConfig, value);
        if (linked === "invalid-upstream") valid = false;
        else if (linked !== null) errors.push(linked);
        continue;
      }
      const error = this.checkLiteral(node.class_type, name, spec, inputConfig, value, inputs);
      if (error !== null) errors.push(error);
    }
    const verdict: NodeVerdict = { valid: valid && errors.length === 0, reasons: errors };
    this.verdicts.set(nodeId, verdict);
    return verdict;
  }

  private checkLink(
    name: string,
    spec: InputSpec,
    inputConfig: JsonValue,
    link: JsonValue[],
  ): ValidationError | "invalid-upstream" | null {
    if (link.length !== 2) {
      return {
        type: "bad_linked_input",
        message: "Bad linked input, must be a length-2 list of [node_id, slot_index]",
        details: name,
        extra_info: { input_name: name, input_config: inputConfig, received_value: link },
      };
    }
    const [sourceId, slot] = link;
    // `prompt[o_id]['class_type']`: a missing node is a KeyError that aborts this output.
    if (typeof sourceId !== "string" || !Object.hasOwn(this.prompt, sourceId)) {
      throw Object.assign(new PythonError("KeyError", pyRepr(sourceId)), {
        traceback: validationTraceback(),
      });
    }
    const sourceClass = (this.prompt[sourceId] as PromptNode).class_type;
    const types = returnTypes(sourceClass);
    const slotIndex = typeof slot === "number" ? slot : Number.NaN;
    const receivedType = types[slotIndex < 0 ? types.length + slotIndex : slotIndex];
    if (receivedType === undefined) {
      throw Object.assign(new PythonError("IndexError", "tuple index out of range"), {
        traceback: validationTraceback(),
      });
    }
    const expected = spec.type;
    const matches = typeof expected === "string" && (expected === "*" || receivedType === "*" || expected === receivedType);
    if (!matches) {
      return {
        type: "return_type_mismatch",
        message: "Return type mismatch between linked nodes",
        details: `${name}, received_type(${receivedType}) mismatch input_type(${pyStr(expected)})`,
        extra_info: { input_name: name, input_config: inputConfig, received_type: receivedType, linked_node: link },
      };
    }
    try {
      return this.validateNode(sourceId).valid ? null : "invalid-upstream";
    } catch (error) {
      // An exception inside the linked node's validation is pinned on that node.
      const message = error instanceof Error ? error.message : String(error);
      this.verdicts.set(sourceId, {
        valid: false,
        reasons: [
          {
            type: "exception_during_inner_validation",
            message: "Exception when validating inner node",
            details: message,
            extra_info: {
              input_name: name,
              input_config: inputConfig,
              exception_message: message,
              exception_type: error instanceof PythonError ? error.pythonType : "Exception",
              traceback: (error as { traceback?: string[] }).traceback ?? validationTraceback(),
              linked_node: link,
            },
          },
        ],
      });
      return "invalid-upstream";
    }
  }

  private checkLiteral(
    classType: string,
    name: string,
    spec: InputSpec,
    inputConfig: JsonValue,
    raw: JsonValue,
    inputs: JsonObject,
  ): ValidationError | null {
    let value: JsonValue;
    try {
      value = convertLiteral(spec, raw);
      inputs[name] = value;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return {
        type: "invalid_input_type",
        message: `Failed to convert an input value to a ${pyStr(spec.type)} value`,
        details: `${name}, ${pyStr(raw)}, ${message}`,
        extra_info: { input_name: name, input_config: inputConfig, received_value: raw, exception_message: message },
      };
    }
    // LoadImage validates its file itself (VALIDATE_INPUTS) instead of checking the combo list.
    if (classType === "LoadImage" && name === "image") {
      if (this.context.inputFileExists(pyStr(value))) return null;
      return {
        type: "custom_validation_failed",
        message: "Custom validation failed for node",
        details: `${name} - Invalid image file: ${pyStr(value)}`,
        extra_info: { input_name: name, input_config: inputConfig, received_value: value },
      };
    }
    const { min, max } = spec.config;
    if (typeof min === "number" && typeof value === "number" && value < min) {
      return {
        type: "value_smaller_than_min",
        message: `Value ${formatForMessage(spec, value)} smaller than min of ${formatForMessage(spec, min)}`,
        details: name,
        extra_info: { input_name: name, input_config: inputConfig, received_value: value },
      };
    }
    if (typeof max === "number" && typeof value === "number" && value > max) {
      return {
        type: "value_bigger_than_max",
        message: `Value ${formatForMessage(spec, value)} bigger than max of ${formatForMessage(spec, max)}`,
        details: name,
        extra_info: { input_name: name, input_config: inputConfig, received_value: value },
      };
    }
    if (Array.isArray(spec.type) && !spec.type.some((option) => option === value)) {
      const long = spec.type.length > 20;
      return {
        type: "value_not_in_list",
        message: "Value not in list",
        details: `${name}: '${pyStr(value)}' not in ${long ? `(list of length ${spec.type.length})` : pyRepr(spec.type)}`,
        extra_info: { input_name: name, input_config: long ? null : inputConfig, received_value: value },
      };
    }
    return null;
  }

  /** Marks an output as failed by an exception, as `validate_prompt`'s `except` does. */
  recordException(nodeId: string, error: unknown): void {
    const pythonType = error instanceof PythonError ? error.pythonType : "Exception";
    const traceback = (error as { traceback?: string[] }).traceback ?? validationTraceback();
    this.verdicts.set(nodeId, {
      valid: false,
      reasons: [
        {
          type: "exception_during_validation",
          message: "Exception when validating node",
          details: error instanceof Error ? error.message : String(error),
          extra_info: { exception_type: pythonType, traceback },
        },
      ],
    });
  }

  verdictEntries(): [string, NodeVerdict][] {
    return [...this.verdicts.entries()];
  }
}

function partialTargets(value: unknown): string[] | null {
  return Array.isArray(value) ? value.map((item) => pyStr(item)) : null;
}

export function validatePrompt(promptValue: unknown, partial: unknown, context: ValidationContext): ValidationResult {
  const prompt = (isObject(promptValue) ? promptValue : {}) as Record<string, JsonValue>;
  const targets = partialTargets(partial);
  const outputs: string[] = [];
  for (const [nodeId, node] of Object.entries(prompt)) {
    if (!isObject(node) || !Object.hasOwn(node, "class_type")) {
      return invalidPrompt("Cannot execute because a node is missing the class_type property.", nodeId);
    }
    const classType = pyStr(node.class_type);
    if (!isKnownClass(classType)) {
      return invalidPrompt(`Cannot execute because node ${classType} does not exist.`, nodeId);
    }
    if (isOutputNode(classType) && (targets === null || targets.includes(nodeId))) outputs.push(nodeId);
  }
  if (outputs.length === 0) {
    return {
      ok: false,
      error: { type: "prompt_no_outputs", message: "Prompt has no outputs", details: "", extra_info: {} },
      nodeErrors: {},
    };
  }

  const validator = new PromptValidator(prompt as unknown as PromptGraph, context);
  const goodOutputs: string[] = [];
  const failedOutputs: [string, ValidationError[]][] = [];
  const nodeErrors: Record<string, NodeErrorEntry> = {};
  for (const output of outputs) {
    let verdict: NodeVerdict;
    try {
      verdict = validator.validateNode(output);
    } catch (error) {
      validator.recordException(output, error);
      verdict = validator.validateNode(output);
    }
    if (verdict.valid) {
      goodOutputs.push(output);
      continue;
    }
    failedOutputs.push([output, verdict.reasons]);
    for (const [nodeId, nodeVerdict] of validator.verdictEntries()) {
      if (nodeVerdict.valid || nodeVerdict.reasons.length === 0) continue;
      const entry = (nodeErrors[nodeId] ??= {
        errors: nodeVerdict.reasons,
        dependent_outputs: [],
        class_type: (prompt[nodeId] as PromptNode).class_type,
      });
      entry.dependent_outputs.push(output);
    }
  }
  if (goodOutputs.length === 0) {
    const details = failedOutputs
      .flatMap(([, reasons]) => reasons.map((reason) => `${reason.message}: ${reason.details}`))
      .join("\n");
    return {
      ok: false,
      error: { type: "prompt_outputs_failed_validation", message: "Prompt outputs failed validation", details, extra_info: {} },
      nodeErrors,
    };
  }
  return { ok: true, outputs: goodOutputs, nodeErrors };
}
