/**
 * Shape-by-shape comparison of a recorded JSON body with the fake's: same keys in the same
 * order, same value types, exact values, except
 * - volatile tokens (ids), matched through the IdMapper;
 * - keys whose values are clocks or machine facts (`TYPE_ONLY_KEYS`): type only;
 * - server internals that the fake only imitates (`SHAPE_ONLY_KEYS`): same shape, any content;
 * - id lists built from a Python set (`UNORDERED_KEYS`): same members, any order.
 */
import type { IdMapper } from "./id-mapper.ts";

/** Times and free memory differ between runs. */
const TYPE_ONLY_KEYS = new Set(["timestamp", "modified", "created", "ram_free", "vram_free", "torch_vram_free", "t"]);
/** Python tracebacks and tensor reprs: the fake keeps the structure, not the text (finding 8). */
const SHAPE_ONLY_KEYS = new Set(["traceback", "current_inputs"]);
/** `executed` in interrupt/error messages comes from a set (finding 4). */
const UNORDERED_KEYS = new Set(["executed"]);

export interface Comparison {
  problems: string[];
  /** False once a type-only or shape-only rule was used: byte lengths may then differ. */
  strict: boolean;
}

function kind(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

function describe(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 120 ? text.slice(0, 117) + "..." : text;
}

class Comparer {
  readonly problems: string[] = [];
  strict = true;

  constructor(private readonly ids: IdMapper) {}

  value(expected: unknown, actual: unknown, path: string, key: string | null): void {
    if (key !== null && TYPE_ONLY_KEYS.has(key)) {
      this.strict = false;
      if (kind(expected) !== kind(actual)) this.problem(path, `type ${kind(actual)}, recorded ${kind(expected)}`);
      return;
    }
    if (key !== null && SHAPE_ONLY_KEYS.has(key)) {
      this.strict = false;
      this.shape(expected, actual, path);
      return;
    }
    if (key === "argv") {
      this.argv(expected, actual, path);
      return;
    }
    if (kind(expected) !== kind(actual)) {
      this.problem(path, `is ${describe(actual)}, recorded ${describe(expected)}`);
      return;
    }
    if (typeof expected === "string") {
      if (!this.ids.matchString(expected, actual as string)) this.problem(path, `is ${describe(actual)}, recorded ${describe(expected)}`);
      return;
    }
    if (Array.isArray(expected)) {
      this.array(expected, actual as unknown[], path, key);
      return;
    }
    if (expected !== null && typeof expected === "object") {
      this.object(expected as Record<string, unknown>, actual as Record<string, unknown>, path);
      return;
    }
    if (expected !== actual) this.problem(path, `is ${describe(actual)}, recorded ${describe(expected)}`);
  }

  private array(expected: unknown[], actual: unknown[], path: string, key: string | null): void {
    if (expected.length !== actual.length) {
      this.problem(path, `has ${actual.length} items, recorded ${expected.length}: ${describe(actual)} vs ${describe(expected)}`);
      return;
    }
    if (key !== null && UNORDERED_KEYS.has(key)) {
      const sortedExpected = expected.map((v) => this.ids.apply(String(v))).sort();
      const sortedActual = actual.map(String).sort();
      if (sortedExpected.join("\n") !== sortedActual.join("\n")) this.problem(path, `is ${describe(actual)}, recorded ${describe(expected)}`);
      return;
    }
    expected.forEach((item, i) => this.value(item, actual[i], `${path}[${i}]`, key));
  }

  private object(expected: Record<string, unknown>, actual: Record<string, unknown>, path: string): void {
    const expectedKeys = Object.keys(expected);
    const actualKeys = Object.keys(actual);
    if (expectedKeys.length !== actualKeys.length) {
      this.problem(path, `has keys ${describe(actualKeys)}, recorded ${describe(expectedKeys)}`);
      return;
    }
    expectedKeys.forEach((expectedKey, i) => {
      const actualKey = actualKeys[i] as string;
      // Keys can be ids (history is keyed by prompt id): pair them in order.
      if (!this.ids.matchString(expectedKey, actualKey)) {
        this.problem(path, `key #${i} is ${describe(actualKey)}, recorded ${describe(expectedKey)}`);
        return;
      }
      this.value(expected[expectedKey], actual[actualKey], `${path}.${expectedKey}`, expectedKey);
    });
  }

  /** Same nesting of arrays and objects (object keys included), leaves of any type. */
  private shape(expected: unknown, actual: unknown, path: string): void {
    if (kind(expected) !== kind(actual)) {
      this.problem(path, `type ${kind(actual)}, recorded ${kind(expected)}`);
      return;
    }
    if (Array.isArray(expected)) {
      const items = actual as unknown[];
      const itemKinds = new Set(expected.map(kind));
      for (const item of items) if (itemKinds.size > 0 && !itemKinds.has(kind(item))) this.problem(path, `holds a ${kind(item)}`);
      return;
    }
    if (expected !== null && typeof expected === "object") {
      const expectedKeys = Object.keys(expected).join(",");
      const actualKeys = Object.keys(actual as object).join(",");
      if (expectedKeys !== actualKeys) this.problem(path, `has keys ${actualKeys}, recorded ${expectedKeys}`);
      for (const [k, v] of Object.entries(expected)) this.shape(v, (actual as Record<string, unknown>)[k], `${path}.${k}`);
    }
  }

  /** The command line echoes the port; the fake's port is random. */
  private argv(expected: unknown, actual: unknown, path: string): void {
    const normalise = (value: unknown, port: string): string => {
      const list = Array.isArray(value) ? [...(value as string[])] : [];
      const index = list.indexOf("--port");
      if (index !== -1 && index + 1 < list.length) list[index + 1] = port;
      return JSON.stringify(list);
    };
    this.strict = false;
    if (normalise(expected, "PORT") !== normalise(actual, "PORT")) {
      this.problem(path, `is ${describe(actual)}, recorded ${describe(expected)} (port aside)`);
    }
  }

  private problem(path: string, message: string): void {
    this.problems.push(`${path || "body"} ${message}`);
  }
}

export function compareJson(expected: unknown, actual: unknown, ids: IdMapper): Comparison {
  const comparer = new Comparer(ids);
  comparer.value(expected, actual, "", null);
  return { problems: comparer.problems, strict: comparer.strict };
}
