/**
 * How Python prints and converts the values that appear in ComfyUI's validation messages
 * (`str()`, `repr()`, `int()`, `float()`), close enough for the messages to read the same.
 */

export class PythonError extends Error {
  constructor(readonly pythonType: string, message: string) {
    super(message);
    this.name = pythonType;
  }
}

export function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return "None";
  if (typeof value === "boolean") return value ? "True" : "False";
  if (typeof value === "number") return String(value);
  if (typeof value === "string") return `'${value.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(", ")}]`;
  if (typeof value === "object") {
    const items = Object.entries(value as Record<string, unknown>).map(([k, v]) => `${pyRepr(k)}: ${pyRepr(v)}`);
    return `{${items.join(", ")}}`;
  }
  return String(value);
}

export function pyStr(value: unknown): string {
  return typeof value === "string" ? value : pyRepr(value);
}

/** `str(float)`: integral floats keep a `.0`. */
export function pyFloatStr(value: number): string {
  return Number.isInteger(value) ? `${value}.0` : String(value);
}

function pyTypeName(value: unknown): string {
  if (value === null || value === undefined) return "NoneType";
  if (Array.isArray(value)) return "list";
  if (typeof value === "object") return "dict";
  return typeof value;
}

export function pyInt(value: unknown): number {
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new PythonError("OverflowError", "cannot convert float infinity to integer");
    return Math.trunc(value);
  }
  if (typeof value === "string" && /^\s*[+-]?\d+(_\d+)*\s*$/.test(value)) return Number(value.replaceAll("_", "").trim());
  if (typeof value === "string") throw new PythonError("ValueError", `invalid literal for int() with base 10: ${pyRepr(value)}`);
  throw new PythonError(
    "TypeError",
    `int() argument must be a string, a bytes-like object or a real number, not '${pyTypeName(value)}'`,
  );
}

export function pyFloat(value: unknown): number {
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value === "number") return value;
  if (typeof value === "string") {
    const text = value.trim().toLowerCase();
    if (/^[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/.test(text)) return Number(text);
    if (/^[+-]?(inf|infinity)$/.test(text)) return text.startsWith("-") ? -Infinity : Infinity;
    if (/^[+-]?nan$/.test(text)) return NaN;
    throw new PythonError("ValueError", `could not convert string to float: ${pyRepr(value)}`);
  }
  throw new PythonError("TypeError", `float() argument must be a string or a real number, not '${pyTypeName(value)}'`);
}

export function pyTruthy(value: unknown): boolean {
  if (value === null || value === undefined || value === false || value === 0 || value === "") return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === "object") return Object.keys(value as object).length > 0;
  return true;
}

/**
 * A Python-style traceback. Real ones leak absolute server paths (finding 8), so the fake's do
 * too; the code lines are placeholders.
 */
export function fakeTraceback(...frames: [file: string, functionName: string][]): string[] {
  return frames.map(([file, functionName]) => `  File "/srv/ComfyUI/${file}", line 1, in ${functionName}\n    <fake-comfyui: code line not reproduced>\n`);
}
