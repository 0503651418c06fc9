/**
 * The execution script beyond what the recordings show: manual stepping, FakeSampler progress
 * and previews per client, runtime errors, pause/resume, caching, LoadImage, logs, reset.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { startFakeComfyUI, type FakeComfyUI } from "./server.ts";
import { CollectingSocket, postPrompt, samplerGraph, saveGraph, waitFor } from "./test-support.ts";
import { encodeSolidPng } from "./png.ts";

const FLAGS = { supports_preview_metadata: true, supports_manager_v4_ui: true, supports_progress_text_metadata: true };

let fake: FakeComfyUI | null = null;
const sockets: CollectingSocket[] = [];

async function start(options: Parameters<typeof startFakeComfyUI>[0] = {}): Promise<FakeComfyUI> {
  fake = await startFakeComfyUI(options);
  return fake;
}

async function socket(sid: string, flags = false): Promise<CollectingSocket> {
  if (fake === null) throw new Error("start the fake first");
  const client = await CollectingSocket.open(`${fake.wsUrl}/ws?clientId=${sid}`);
  sockets.push(client);
  if (flags) {
    client.send({ type: "feature_flags", data: FLAGS });
    await waitFor(() => client.texts("feature_flags").length === 1, "the feature_flags reply");
  }
  return client;
}

afterEach(async () => {
  for (const client of sockets.splice(0)) client.close();
  await fake?.stop();
  fake = null;
});

describe("manual execution", () => {
  test("each step runs one node or one progress tick and reports where it parked", async () => {
    const server = await start({ execution: "manual" });
    const client = await socket("m1", true);
    const { json } = await postPrompt(server.url, { prompt: samplerGraph(3), client_id: "m1" });
    const promptId = json.prompt_id as string;

    await waitFor(() => server.summary().parked.state === "waiting", "the worker to park");
    expect(server.summary()).toMatchObject({ running: [promptId], parked: { prompt_id: promptId, node: "3", next: "node" } });
    const queue = (await (await fetch(`${server.url}/api/queue`)).json()) as { queue_running: unknown[][] };
    expect(queue.queue_running[0]?.[1]).toBe(promptId);

    expect(await server.step()).toEqual({ state: "waiting", prompt_id: promptId, node: "3", next: "tick" });
    // The step answers when the worker parks; the frames are still on their way.
    await waitFor(() => client.texts("progress").length === 1, "the first progress message");
    await Bun.sleep(20);
    expect(client.texts("progress").map((m) => m.data.value)).toEqual([1]);
    expect(client.binaries().map((b) => b.eventType)).toEqual([4]);
    expect(await server.step()).toMatchObject({ node: "3", next: "tick" });
    expect(await server.step()).toMatchObject({ node: "9", next: "node" });
    await waitFor(() => client.texts("progress").length === 3, "three progress messages");
    expect(client.texts("progress").map((m) => `${m.data.value}/${m.data.max}`)).toEqual(["1/3", "2/3", "3/3"]);

    const over = await fetch(`${server.url}/__fake/step`, { method: "POST" });
    expect(await over.json()).toEqual({ state: "idle", prompt_id: null, node: null, next: null });
    await client.waitForDone(promptId);
    const history = server.state.history.get(promptId);
    expect(history?.status.status_str).toBe("success");
    expect(history?.outputs["9"]?.images).toEqual([
      { filename: expect.stringMatching(/^ComfyUI_temp_[a-z]{5}_00001_\.png$/), subfolder: "", type: "temp" },
    ]);
  });

  test("an interrupt while parked ends the prompt at the next node", async () => {
    const server = await start({ execution: "manual" });
    const client = await socket("m2");
    const { json } = await postPrompt(server.url, { prompt: saveGraph("intr"), client_id: "m2" });
    await server.step(); // node 1 done, parked before node 9
    await fetch(`${server.url}/api/interrupt`, { method: "POST" });
    await client.waitForDone(json.prompt_id as string);
    const interrupted = client.texts("execution_interrupted")[0]?.data;
    expect(interrupted).toMatchObject({ node_id: "9", node_type: "SaveImage", executed: ["1"] });
    const entry = server.state.history.get(json.prompt_id as string);
    expect(entry?.status).toMatchObject({ status_str: "error", completed: false });
    expect(entry?.status.messages.map(([type]) => type)).toEqual(["execution_start", "execution_cached", "execution_interrupted"]);
  });

  test("step answers 409 over HTTP in auto mode, and the mode can be switched while running", async () => {
    const server = await start();
    expect((await fetch(`${server.url}/__fake/step`, { method: "POST" })).status).toBe(409);
    await fetch(`${server.url}/__fake/execution`, { method: "POST", body: JSON.stringify({ mode: "manual" }) });
    const { json } = await postPrompt(server.url, { prompt: saveGraph("switch") });
    await waitFor(() => server.summary().parked.state === "waiting", "a parked worker");
    server.setExecutionMode("auto");
    await server.waitForIdle();
    expect(server.state.history.get(json.prompt_id as string)?.status.status_str).toBe("success");
  });
});

describe("FakeSampler previews and progress", () => {
  test("type 4 for a client with the metadata flag, type 1 without, broadcast without client_id", async () => {
    const server = await start({ stepDelayMs: 1 });
    const modern = await socket("modern", true);
    const legacy = await socket("legacy");

    const first = await postPrompt(server.url, { prompt: samplerGraph(2), client_id: "modern" });
    await modern.waitForDone(first.json.prompt_id as string);
    const frames = modern.binaries();
    expect(frames.map((f) => f.eventType)).toEqual([4, 4]);
    expect(frames[0]?.metadata).toEqual({
      node_id: "3",
      prompt_id: first.json.prompt_id,
      display_node_id: "3",
      parent_node_id: null,
      real_node_id: "3",
      image_type: "image/png",
    });
    expect(legacy.binaries()).toEqual([]);
    expect(legacy.texts("progress")).toEqual([]);

    const second = await postPrompt(server.url, { prompt: samplerGraph(2), client_id: "legacy" });
    await legacy.waitForDone(second.json.prompt_id as string);
    expect(legacy.binaries().map((f) => [f.eventType, f.imageType])).toEqual([[1, 2], [1, 2]]);

    const before = { modern: modern.binaries().length, legacy: legacy.binaries().length };
    const third = await postPrompt(server.url, { prompt: samplerGraph(2) });
    await server.waitForIdle();
    await waitFor(() => legacy.binaries().length === before.legacy + 2 && modern.binaries().length === before.modern + 2, "broadcast previews");
    // Without a client_id everyone gets type 1, even a socket that asked for metadata (finding 9).
    expect(modern.binaries().slice(before.modern).map((f) => f.eventType)).toEqual([1, 1]);
    expect(modern.texts("progress").filter((m) => m.data.prompt_id === third.json.prompt_id)).toHaveLength(2);
    expect(modern.texts("execution_start").filter((m) => m.data.prompt_id === third.json.prompt_id)).toHaveLength(0);
  });

  test("fail_at_step raises an execution_error and the history records it", async () => {
    const server = await start();
    const client = await socket("fails");
    const { json } = await postPrompt(server.url, { prompt: samplerGraph(4, { fail_at_step: 2 }), client_id: "fails" });
    await client.waitForDone(json.prompt_id as string);
    expect(client.texts("execution_error")[0]?.data).toMatchObject({
      node_id: "3",
      node_type: "FakeSampler",
      exception_type: "RuntimeError",
      exception_message: "FakeSampler failed at step 2 of 4",
    });
    expect(client.texts("progress")).toHaveLength(2);
    const entry = server.state.history.get(json.prompt_id as string);
    expect(entry?.status.status_str).toBe("error");
    expect(entry?.outputs).toEqual({});
  });
});

describe("queue control and caching", () => {
  test("paused, prompts stay pending; resumed, they run in priority order", async () => {
    const server = await start();
    server.pause();
    const a = await postPrompt(server.url, { prompt: saveGraph("a", 1) });
    const b = await postPrompt(server.url, { prompt: saveGraph("b", 2), front: true });
    const status = (await (await fetch(`${server.url}/api/prompt`)).json()) as { exec_info: { queue_remaining: number } };
    expect(status.exec_info.queue_remaining).toBe(2);
    await server.waitForIdle(); // paused counts as idle
    server.resume();
    await waitFor(() => server.state.history.all().length === 2, "both prompts to run");
    expect(server.state.history.all().map(([id]) => id as unknown)).toEqual([b.json.prompt_id, a.json.prompt_id]);
  });

  test("an identical re-run is fully cached and writes no new file", async () => {
    const server = await start();
    const client = await socket("cache");
    const graph = saveGraph("cached", 0x00ff00);
    const first = await postPrompt(server.url, { prompt: graph, client_id: "cache" });
    await client.waitForDone(first.json.prompt_id as string);
    const second = await postPrompt(server.url, { prompt: graph, client_id: "cache" });
    await client.waitForDone(second.json.prompt_id as string);
    const cached = client.texts("execution_cached").map((m) => m.data.nodes);
    expect(cached).toEqual([[], ["1", "9"]]);
    expect(client.texts("executing").filter((m) => m.data.prompt_id === second.json.prompt_id).map((m) => m.data.node)).toEqual([null]);
    const outputs = server.state.history.all().map(([, entry]) => entry.outputs["9"]);
    expect(outputs[0]).toEqual(outputs[1]);
    expect(server.state.files.topLevelFilesNewestFirst("output").filter((n) => n.startsWith("cached"))).toEqual(["cached_00001_.png"]);
  });

  test("LoadImage reads the uploaded image's size (GetImageSize reports it as progress text)", async () => {
    const server = await start();
    const client = await socket("load");
    const form = new FormData();
    const png = encodeSolidPng({ width: 20, height: 10, color: 0 }) as Uint8Array<ArrayBuffer>;
    form.append("image", new Blob([png], { type: "image/png" }), "small.png");
    await fetch(`${server.url}/api/upload/image`, { method: "POST", body: form });
    const prompt = {
      "1": { class_type: "LoadImage", inputs: { image: "small.png" } },
      "2": { class_type: "GetImageSize", inputs: { image: ["1", 0] } },
      "9": { class_type: "PreviewImage", inputs: { images: ["1", 0] } },
    };
    const { status, json } = await postPrompt(server.url, { prompt, client_id: "load" });
    expect(status).toBe(200);
    await client.waitForDone(json.prompt_id as string);
    // GetImageSize is not an output and nothing needs it: it does not run.
    expect(client.binaries()).toEqual([]);
    const withSize = { ...prompt, "9": { class_type: "PreviewImage", inputs: { images: ["3", 0] } }, "3": { class_type: "EmptyImage", inputs: { width: ["2", 0], height: ["2", 1], batch_size: 1, color: 0 } } };
    const second = await postPrompt(server.url, { prompt: withSize, client_id: "load" });
    await client.waitForDone(second.json.prompt_id as string);
    expect(client.binaries().map((b) => b.text)).toEqual(["width: 20, height: 10\n batch size: 1"]);

    const missing = await postPrompt(server.url, { prompt: { ...prompt, "1": { class_type: "LoadImage", inputs: { image: "nope.png" } } } });
    expect(missing.status).toBe(400);
    expect(JSON.stringify(missing.json)).toContain("Invalid image file: nope.png");
  });
});

describe("logs, reset and ids", () => {
  test("subscribed sids receive logs messages", async () => {
    const server = await start();
    const client = await socket("logger");
    await fetch(`${server.url}/internal/logs/subscribe`, { method: "PATCH", body: JSON.stringify({ clientId: "logger", enabled: true }) });
    const { json } = await postPrompt(server.url, { prompt: saveGraph("log") });
    await server.waitForIdle();
    await waitFor(() => client.texts("logs").length >= 2, "log messages");
    expect(client.texts("logs")[0]?.data).toEqual({ entries: [{ t: expect.any(String), m: "got prompt\n" }], size: null });
    expect(json.prompt_id).toBeString();
  });

  test("reset empties everything and closes sockets, also mid-prompt", async () => {
    const server = await start({ execution: "manual" });
    const client = await socket("gone");
    await postPrompt(server.url, { prompt: saveGraph("r") });
    await waitFor(() => server.summary().parked.state === "waiting", "a parked worker");
    await fetch(`${server.url}/__fake/reset`, { method: "POST" });
    await client.closed;
    expect(server.summary()).toMatchObject({ queue_remaining: 0, running: [], pending: [], history: [], sockets: [], prompt_counter: 0 });
    expect(server.requests()).toEqual([]);
    const { json } = await postPrompt(server.url, { prompt: saveGraph("after") });
    expect(json.number).toBe(0);
  });

  test("the same seed gives the same generated ids", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const server = await start({ seed: 42 });
      const { json } = await postPrompt(server.url, { prompt: saveGraph() });
      ids.push(json.prompt_id as string);
      await server.stop();
      fake = null;
    }
    expect(ids[0]).toBe(ids[1] as string);
  });
});
