/**
 * Form parsing the way aiohttp's `request.post()` sees it: multipart parts keep their filename
 * exactly as sent (a percent-encoded `..%2Fevil.png` stays literal, finding 19), fields without
 * a filename are text, and an url-encoded body gives text fields only. Other content types give
 * an empty form.
 */

export interface FormPart {
  name: string;
  /** null for a plain field. */
  filename: string | null;
  contentType: string | null;
  data: Uint8Array;
}

export class ParsedForm {
  constructor(readonly parts: FormPart[]) {}

  /** First part with that name (aiohttp's `MultiDict.get`). */
  part(name: string): FormPart | undefined {
    return this.parts.find((p) => p.name === name);
  }

  /** Text of the first field with that name. */
  text(name: string): string | undefined {
    const part = this.part(name);
    return part === undefined ? undefined : new TextDecoder().decode(part.data);
  }
}

/** Parameters of a header like `form-data; name="a"; filename="b"` (quoted strings unescaped). */
export function headerParameters(value: string): Record<string, string> {
  const params: Record<string, string> = {};
  const pattern = /;\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)/g;
  for (const match of value.matchAll(pattern)) {
    const key = (match[1] as string).toLowerCase();
    let raw = (match[2] as string).trim();
    if (raw.startsWith('"')) raw = raw.slice(1, -1).replace(/\\(.)/g, "$1");
    params[key] = raw;
  }
  // RFC 5987 `filename*=UTF-8''…` wins over `filename`.
  const extended = params["filename*"];
  if (extended !== undefined) {
    const encoded = extended.replace(/^[^']*'[^']*'/, "");
    try {
      params.filename = decodeURIComponent(encoded);
    } catch {
      params.filename = encoded;
    }
  }
  return params;
}

function parseHeaders(block: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of block.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}

export function parseMultipart(body: Uint8Array, boundary: string): FormPart[] {
  const buffer = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: FormPart[] = [];
  let position = buffer.indexOf(delimiter);
  while (position !== -1) {
    let start = position + delimiter.length;
    if (buffer[start] === 0x2d && buffer[start + 1] === 0x2d) break; // closing "--boundary--"
    if (buffer[start] === 0x0d && buffer[start + 1] === 0x0a) start += 2;
    const next = buffer.indexOf(delimiter, start);
    if (next === -1) break;
    const headerEnd = buffer.indexOf("\r\n\r\n", start);
    if (headerEnd === -1 || headerEnd > next) {
      position = next;
      continue;
    }
    // Header bytes are UTF-8 in practice (browsers send raw UTF-8 filenames).
    const headers = parseHeaders(buffer.subarray(start, headerEnd).toString("utf8"));
    let end = next;
    if (buffer[end - 2] === 0x0d && buffer[end - 1] === 0x0a) end -= 2;
    const disposition = headerParameters(headers["content-disposition"] ?? "");
    if (disposition.name !== undefined) {
      parts.push({
        name: disposition.name,
        filename: disposition.filename ?? null,
        contentType: headers["content-type"] ?? null,
        data: new Uint8Array(buffer.buffer, buffer.byteOffset + headerEnd + 4, end - headerEnd - 4),
      });
    }
    position = next;
  }
  return parts;
}

export function parseUrlEncoded(body: Uint8Array): FormPart[] {
  const encoder = new TextEncoder();
  return [...new URLSearchParams(new TextDecoder().decode(body))].map(([name, value]) => ({
    name,
    filename: null,
    contentType: null,
    data: encoder.encode(value),
  }));
}

export function parseForm(contentType: string | null, body: Uint8Array): ParsedForm {
  const type = (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  if (type === "multipart/form-data") {
    const boundary = headerParameters(contentType ?? "").boundary;
    return new ParsedForm(boundary === undefined ? [] : parseMultipart(body, boundary));
  }
  if (type === "application/x-www-form-urlencoded") return new ParsedForm(parseUrlEncoded(body));
  return new ParsedForm([]);
}
