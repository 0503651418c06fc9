/**
 * JSON text the way Python's `json.dumps` writes it with default settings, which is what
 * aiohttp's `json_response` and ComfyUI's WebSocket `send_json` produce:
 * `", "` and `": "` separators and `ensure_ascii` (every character outside printable ASCII is
 * written as `\uXXXX`). Byte-for-byte equal bodies make `Content-Length` match the real server.
 *
 * With `indent`, the separators become `","` + newline and `": "`, as `json.dump(..., indent=4)`
 * writes `comfy.settings.json`.
 *
 * Known difference: JavaScript has one number type, so a Python float such as `5.0` is written
 * as `5`.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Python's `json` escapes `"` and `\`, uses short escapes for these, and `\u00XX` otherwise. */
const SHORT_ESCAPES: Record<string, string> = {
  '"': '\\"',
  "\\": "\\\\",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\b": "\\b",
  "\f": "\\f",
};

function quote(text: string): string {
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    const code = text.charCodeAt(i);
    const short = SHORT_ESCAPES[ch];
    if (short !== undefined) out += short;
    else if (code < 0x20 || code > 0x7e) out += "\\u" + code.toString(16).padStart(4, "0");
    else out += ch;
  }
  return out + '"';
}

function formatNumber(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "Infinity";
  if (value === -Infinity) return "-Infinity";
  return String(value);
}

function write(value: unknown, indent: number | undefined, depth: number): string | undefined {
  if (value === null) return "null";
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "number":
      return formatNumber(value);
    case "string":
      return quote(value);
    case "undefined":
    case "function":
    case "symbol":
      return undefined;
    case "bigint":
      return value.toString();
    default:
      break;
  }
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") {
    return write((value as { toJSON: () => unknown }).toJSON(), indent, depth);
  }
  const inner = indent === undefined ? "" : "\n" + " ".repeat(indent * (depth + 1));
  const outer = indent === undefined ? "" : "\n" + " ".repeat(indent * depth);
  const itemSeparator = indent === undefined ? ", " : ",";
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    const parts = value.map((item) => write(item, indent, depth + 1) ?? "null");
    return "[" + inner + parts.join(itemSeparator + inner) + outer + "]";
  }
  const parts: string[] = [];
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    const text = write(item, indent, depth + 1);
    if (text !== undefined) parts.push(quote(key) + ": " + text);
  }
  if (parts.length === 0) return "{}";
  return "{" + inner + parts.join(itemSeparator + inner) + outer + "}";
}

/** `json.dumps(value)` (or `json.dumps(value, indent=n)`). */
export function pyJsonDumps(value: unknown, indent?: number): string {
  return write(value, indent, 0) ?? "null";
}
