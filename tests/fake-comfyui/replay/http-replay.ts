/**
 * Sends a recorded request to the fake (ids rewritten, multipart bodies rebuilt from the
 * recorded parts) and compares the answer with the recorded one: status, significant headers
 * and the body.
 */
import { createHash } from "node:crypto";
import { pyJsonDumps } from "../py-json.ts";
import { compareJson } from "./compare.ts";
import type { IdMapper } from "./id-mapper.ts";
import { rawExchange } from "./raw-http.ts";
import { isBinaryBody, type HttpRecording, type MultipartPart } from "./recordings.ts";

export interface Observed {
  status: number;
  /** Lower-case names. */
  headers: Record<string, string>;
  body: Uint8Array;
  firstFrame: unknown;
}

/** How much of a recording is compared; anything looser than "exact" must say why. */
export type BodyCheck =
  | { kind: "exact" }
  /** Our own fixed-size content cannot equal the real bytes: check the format's magic bytes. */
  | { kind: "magic"; magicHex: string; reason: string }
  /** A custom check; returns problems. */
  | { kind: "custom"; reason: string; check: (expected: unknown, actual: unknown) => string[] };

function buildMultipart(parts: MultipartPart[]): { body: Uint8Array<ArrayBuffer>; contentType: string } {
  const boundary = `----fake-replay-${crypto.randomUUID()}`;
  const chunks: Uint8Array[] = [];
  const encoder = new TextEncoder();
  for (const part of parts) {
    if ("filename" in part) {
      // Sent unquoted, as the recording client did (aiohttp quote_fields=False).
      chunks.push(
        encoder.encode(
          `--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"; filename="${part.filename}"\r\nContent-Type: ${part.content_type}\r\n\r\n`,
        ),
        new Uint8Array(Buffer.from(part.base64, "base64")),
        encoder.encode("\r\n"),
      );
    } else {
      chunks.push(encoder.encode(`--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"\r\n\r\n${part.value}\r\n`));
    }
  }
  chunks.push(encoder.encode(`--${boundary}--\r\n`));
  return { body: new Uint8Array(Buffer.concat(chunks)), contentType: `multipart/form-data; boundary=${boundary}` };
}

function isMultipart(body: unknown): body is { "multipart/form-data": MultipartPart[] } {
  return body !== null && typeof body === "object" && "multipart/form-data" in body;
}

export async function sendRecordedRequest(baseUrl: string, port: number, recording: HttpRecording, ids: IdMapper): Promise<Observed> {
  const { request } = recording;
  const target = ids.apply(request.target);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) headers[name] = ids.apply(value);

  if (headers.Upgrade !== undefined) {
    const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}`);
    const exchange = await rawExchange(port, `${request.method} ${target} HTTP/1.1\r\n${lines.join("\r\n")}\r\n\r\n`);
    return { status: exchange.status, headers: exchange.headers, body: new Uint8Array(0), firstFrame: exchange.firstFrame };
  }

  let body: Uint8Array<ArrayBuffer> | string | undefined;
  if (isMultipart(request.body)) {
    const parts = request.body["multipart/form-data"];
    if (headers["Content-Type"]?.startsWith("application/x-www-form-urlencoded")) {
      body = new URLSearchParams(parts.map((p) => [p.name, "value" in p ? p.value : ""])).toString();
    } else {
      const built = buildMultipart(parts);
      body = built.body;
      headers["Content-Type"] = built.contentType;
    }
  } else if (typeof request.body === "string") {
    body = request.body;
  } else if (request.body !== null && request.body !== undefined) {
    body = JSON.stringify(ids.applyDeep(request.body));
  }
  const response = await fetch(`${baseUrl}${target}`, {
    method: request.method,
    headers,
    ...(body === undefined ? {} : { body }),
    redirect: "manual",
  });
  return {
    status: response.status,
    headers: Object.fromEntries([...response.headers].map(([k, v]) => [k.toLowerCase(), v])),
    body: new Uint8Array(await response.arrayBuffer()),
    firstFrame: null,
  };
}

function lowerKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

/** Headers whose presence is compared; values too for the first group. */
const VALUE_HEADERS = ["content-type", "content-disposition", "content-range", "accept-ranges", "connection", "upgrade"];
const PRESENCE_HEADERS = ["etag", "last-modified", "content-length"];

export function compareExchange(recording: HttpRecording, observed: Observed, ids: IdMapper, check: BodyCheck): string[] {
  const problems: string[] = [];
  const expected = recording.response;
  if (observed.status !== expected.status) problems.push(`status ${observed.status}, recorded ${expected.status}`);
  const recordedHeaders = lowerKeys(expected.headers);
  // aiohttp's static 404 is chunked; Bun always writes Content-Length: 0 for an empty body.
  const chunked = recordedHeaders["transfer-encoding"] === "chunked";
  for (const name of [...VALUE_HEADERS, ...PRESENCE_HEADERS]) {
    if (name === "content-length" && chunked) continue;
    if (name === "connection" && recordedHeaders[name] !== "close") continue;
    if (name === "upgrade" || (expected.status === 101 && name === "content-length")) continue;
    const want = recordedHeaders[name];
    const got = observed.headers[name];
    if ((want === undefined) !== (got === undefined)) {
      problems.push(`header ${name} is ${got === undefined ? "absent" : JSON.stringify(got)}, recorded ${want === undefined ? "absent" : JSON.stringify(want)}`);
      continue;
    }
    if (want !== undefined && got !== undefined && VALUE_HEADERS.includes(name) && !ids.matchString(want, got)) {
      problems.push(`header ${name} is ${JSON.stringify(got)}, recorded ${JSON.stringify(want)}`);
    }
  }
  if (expected.status === 101) {
    const frame = expected.first_ws_frame_after_upgrade;
    const result = compareJson(frame, observed.firstFrame, ids);
    problems.push(...result.problems.map((p) => `first frame ${p}`));
    return problems;
  }
  problems.push(...compareBody(recording, observed, ids, check));
  return problems;
}

function compareBody(recording: HttpRecording, observed: Observed, ids: IdMapper, check: BodyCheck): string[] {
  const expected = recording.response.body;
  const recordedType = lowerKeys(recording.response.headers)["content-type"] ?? "";
  const recordedLength = Number(lowerKeys(recording.response.headers)["content-length"] ?? NaN);
  const actualLength = Number(observed.headers["content-length"] ?? NaN);
  if (check.kind === "magic") {
    const head = Buffer.from(observed.body.subarray(0, check.magicHex.length / 2)).toString("hex");
    return head === check.magicHex ? [] : [`body starts ${head}, expected ${check.magicHex} (${check.reason})`];
  }
  if (isBinaryBody(expected)) {
    const sha = createHash("sha256").update(observed.body).digest("hex");
    if (observed.body.length !== expected.length || sha !== expected.sha256) {
      return [`body is ${observed.body.length} bytes (sha256 ${sha.slice(0, 12)}…), recorded ${expected.length} bytes (${expected.sha256.slice(0, 12)}…)`];
    }
    return [];
  }
  const text = new TextDecoder().decode(observed.body);
  if (recordedType.includes("json")) {
    let actual: unknown;
    try {
      actual = JSON.parse(text);
    } catch {
      return [`body is not JSON: ${JSON.stringify(text.slice(0, 200))}`];
    }
    if (check.kind === "custom") return check.check(expected, actual);
    const result = compareJson(expected, actual, ids);
    // When Python's encoder would write the recorded bytes, the lengths must agree too.
    const reproducible = Buffer.byteLength(pyJsonDumps(ids.applyDeep(expected))) === recordedLength;
    if (result.problems.length === 0 && result.strict && reproducible && actualLength !== recordedLength) {
      result.problems.push(`Content-Length ${actualLength}, recorded ${recordedLength}`);
    }
    return result.problems;
  }
  if (check.kind === "custom") return check.check(expected, text);
  if (typeof expected === "string" && !ids.matchString(expected, text)) {
    return [`body is ${JSON.stringify(text.slice(0, 200))}, recorded ${JSON.stringify(expected.slice(0, 200))}`];
  }
  return [];
}
