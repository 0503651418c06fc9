/**
 * A whole ComfyUI session as a browser and an API client would drive it: WebSocket with the
 * feature-flag handshake, settings, an upload, a workflow save through the `%2F` userdata route,
 * a prompt run to completion with its WebSocket events, history, queue and the output image.
 * Everything the client receives is recorded, so that a run through the gateway can be compared
 * byte for byte with a run against ComfyUI directly.
 */
import type { FakeComfyUI } from "../fake-comfyui/server.ts";

export interface RecordedExchange {
  request: string;
  status: number;
  headers: Record<string, string>;
  body: string; // base64, so that binary bodies compare exactly
}

export interface RecordedRun {
  http: RecordedExchange[];
  /** Frames received on the socket, text as-is, binary as "binary:<base64>". */
  frames: string[];
}

/** Headers that legitimately differ between two runs at different moments. */
const VOLATILE_HEADERS = new Set(["date"]);

const TINY_PNG = Uint8Array.from(
  atob("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="),
  (c) => c.charCodeAt(0),
);

const GRAPH = {
  "1": { class_type: "EmptyImage", inputs: { width: 64, height: 64, batch_size: 1, color: 1056816 } },
  "9": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: "fx" } },
};

const WORKFLOW = JSON.stringify({ last_node_id: 9, nodes: [], version: 0.4 });

async function record(base: string, path: string, init: RequestInit, headers: Record<string, string>): Promise<RecordedExchange> {
  const response = await fetch(base + path, { ...init, headers: { ...headers, ...(init.headers as Record<string, string> | undefined) } });
  const bytes = new Uint8Array(await response.arrayBuffer());
  const kept: Record<string, string> = {};
  for (const [name, value] of response.headers) if (!VOLATILE_HEADERS.has(name)) kept[name] = value;
  return { request: `${init.method ?? "GET"} ${path}`, status: response.status, headers: kept, body: Buffer.from(bytes).toString("base64") };
}

/**
 * Drives the session against `base` (ComfyUI directly, or the gateway). `headers` go on every
 * HTTP request (the direct run needs `Comfy-User`; the gateway run sends a forged one that the
 * gateway must replace). `fake` is the upstream behind `base`, stepped by hand so that both runs
 * see the same sequence of events.
 */
/**
 * What the session does as one user of the gateway. The gateway puts outputs and uploads in
 * the user's folder and stamps the owner into the prompt: a direct run that is to compare with a
 * gateway run does the same itself (`emulateGateway`), the gateway run leaves it to the gateway.
 */
export interface SessionUser {
  /** The user's folder (`u-<id>`), where the gateway puts their uploads and outputs. */
  folder: string;
  /** A fresh UUID: the client chooses the prompt id, so both runs use the same one. */
  promptId: string;
  /** Set for the direct run: the rewrites the gateway would make. */
  emulateGateway?: { owner: { user_id: string; username: string } };
}

export async function runComfySession(base: string, fake: FakeComfyUI, headers: Record<string, string>, user: SessionUser): Promise<RecordedRun> {
  const http: RecordedExchange[] = [];
  const frames: string[] = [];
  // Credentials go on the upgrade too (Bun's WebSocket client can send headers; browsers use a ticket).
  const socket = new WebSocket(`${base.replace("http://", "ws://")}/ws?clientId=session-1`, { headers } as unknown as string[]);
  socket.binaryType = "arraybuffer";
  socket.onmessage = (event) => {
    frames.push(typeof event.data === "string" ? event.data : `binary:${Buffer.from(event.data as ArrayBuffer).toString("base64")}`);
  };
  await new Promise<void>((resolve, reject) => {
    socket.onopen = () => resolve();
    socket.onerror = () => reject(new Error(`websocket to ${base} failed`));
  });
  socket.send(JSON.stringify({ type: "feature_flags", data: { supports_preview_metadata: true } }));
  await until(() => frames.length >= 2);

  const json = { "content-type": "application/json" };
  http.push(await record(base, "/api/settings", {}, headers));
  http.push(await record(base, "/api/settings", { method: "POST", body: JSON.stringify({ "Comfy.UseNewMenu": "Top" }), headers: json }, headers));
  http.push(await record(base, "/api/settings/Comfy.UseNewMenu", {}, headers));

  const form = new FormData();
  form.append("image", new Blob([TINY_PNG], { type: "image/png" }), "up.png");
  form.append("subfolder", user.emulateGateway ? user.folder : "");
  http.push(await record(base, "/api/upload/image", { method: "POST", body: form }, headers));
  http.push(await record(base, `/api/view?filename=up.png&type=input&subfolder=${user.folder}`, {}, headers));

  http.push(await record(base, "/api/userdata/workflows%2Fa.json?overwrite=true&full_info=true", { method: "POST", body: WORKFLOW }, headers));
  http.push(await record(base, "/api/userdata/workflows%2Fa.json", {}, headers));
  http.push(await record(base, "/api/userdata?dir=workflows&recurse=true&split=false&full_info=true", {}, headers));
  http.push(await record(base, "/api/v2/userdata?path=workflows", {}, headers));

  const extraData: Record<string, unknown> = { extra_pnginfo: { workflow: { id: "wf-1" } } };
  let graph: typeof GRAPH = GRAPH;
  if (user.emulateGateway) {
    extraData.x_mss_owner = user.emulateGateway.owner;
    graph = { ...GRAPH, "9": { ...GRAPH["9"], inputs: { ...GRAPH["9"].inputs, filename_prefix: `${user.folder}/fx` } } };
  }
  const submitted = await record(base, "/api/prompt", { method: "POST", body: JSON.stringify({ client_id: "session-1", prompt_id: user.promptId, prompt: graph, extra_data: extraData }), headers: json }, headers);
  http.push(submitted);
  const promptId = (JSON.parse(Buffer.from(submitted.body, "base64").toString()) as { prompt_id: string }).prompt_id;
  http.push(await record(base, "/api/queue", {}, headers));
  http.push(await record(base, "/api/prompt", {}, headers));

  // Run the prompt to the end, one scripted step at a time.
  for (let i = 0; i < 100 && fake.summary().queue_remaining > 0; i++) await fake.step();
  await fake.waitForIdle(5000);
  await until(() => frames.some(isPromptDone));

  http.push(await record(base, "/api/history", {}, headers));
  http.push(await record(base, `/api/history/${promptId}`, {}, headers));
  http.push(await record(base, "/api/history?max_items=1", {}, headers));
  http.push(await record(base, `/api/view?filename=fx_00001_.png&type=output&subfolder=${user.folder}`, {}, headers));
  http.push(await record(base, `/view?filename=fx_00001_.png&subfolder=${user.folder}`, { headers: { range: "bytes=0-15" } }, headers));
  http.push(await record(base, "/api/object_info/SaveImage", {}, headers));
  http.push(await record(base, "/api/features", {}, headers));
  http.push(await record(base, "/api/extensions", {}, headers));
  http.push(await record(base, "/", {}, headers));
  http.push(await record(base, "/api/queue", { method: "POST", body: JSON.stringify({ delete: [user.promptId] }), headers: json }, headers));
  http.push(await record(base, "/api/userdata/workflows%2Fa.json", { method: "DELETE" }, headers));

  socket.close();
  return { http, frames };
}

/** `executing` with `node: null` is how ComfyUI says a prompt is finished. */
function isPromptDone(frame: string): boolean {
  if (frame.startsWith("binary:")) return false;
  const message = JSON.parse(frame) as { type?: string; data?: { node?: unknown } };
  return message.type === "executing" && message.data?.node === null;
}

async function until(predicate: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error("the session did not reach the expected state in time");
    await Bun.sleep(5);
  }
}
