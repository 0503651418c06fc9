/**
 * Bodies stream through the gateway rather than sitting in its memory: a 500 MB upload and a
 * large download through a separately running gateway process, whose peak resident memory
 * (VmHWM) is read from /proc before and after.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { memoryOf, spawnGateway, type SpawnedGateway } from "../support/gateway.ts";
import { startProbeUpstream, type ProbeUpstream } from "../support/probe-upstream.ts";

const MB = 1024 * 1024;
const UPLOAD_BYTES = 500 * MB;
/**
 * The gateway's peak may grow by at most this much while 300-500 MB pass. What it measures is
 * buffering: a body held in memory would add its whole size. What remains is garbage (the 1 MB
 * chunks already forwarded) that the collector has not yet reclaimed: 15-55 MB on an idle
 * machine, more when the machine is busy and the collector runs late (a CI run saw it above 64
 * MB), never proportional to the body (a slow upstream grows it less, not more).
 */
const ALLOWED_GROWTH = 128 * MB;

/** Uploads are multipart, as the front end sends them (the gateway adds its own subfolder field). */
const MULTIPART = "multipart/form-data; boundary=mss-test-boundary";
const PART_HEAD = new TextEncoder().encode('--mss-test-boundary\r\nContent-Disposition: form-data; name="image"; filename="big.png"\r\nContent-Type: image/png\r\n\r\n');
const PART_TAIL = new TextEncoder().encode("\r\n--mss-test-boundary--\r\n");

let probe: ProbeUpstream;
let gateway: SpawnedGateway;

beforeAll(async () => {
  probe = await startProbeUpstream();
  // Without the NSFW check: this file is about streaming memory; the guard (which withholds checked users' previews and re-labels or refuses their images) has its own tests (nsfw-*.test.ts).
  gateway = await spawnGateway(probe.url, { env: { MSS_LOGIN_LIMITS__MAX_UPLOAD_BYTES: String(600 * MB) }, sfwCheck: false });
  // Warm up the code paths so that what is measured is the body, not first-use allocations.
  for (let i = 0; i < 3; i++) {
    const warm = new Uint8Array([...PART_HEAD, ...new Uint8Array(4 * MB), ...PART_TAIL]);
    await (await gateway.fetch(`/api/upload/image`, { method: "POST", body: warm, headers: { "content-type": MULTIPART } })).arrayBuffer();
  }
});
afterAll(async () => {
  await gateway.stop();
  await probe.stop();
});

test("a 500 MB upload streams to the upstream without the gateway holding it in memory (peak growth far below its size)", async () => {
  const before = memoryOf(gateway.pid);
  const chunk = new Uint8Array(MB).fill(7);
  let sent = 0;
  let tailSent = false;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(PART_HEAD);
    },
    pull(controller) {
      if (sent >= UPLOAD_BYTES) {
        if (!tailSent) controller.enqueue(PART_TAIL);
        tailSent = true;
        return controller.close();
      }
      controller.enqueue(chunk);
      sent += chunk.byteLength;
    },
  });
  const total = PART_HEAD.byteLength + UPLOAD_BYTES + PART_TAIL.byteLength;
  const response = await gateway.fetch(`/api/upload/image`, {
    method: "POST",
    body,
    headers: { "content-length": String(total), "content-type": MULTIPART },
    duplex: "half",
  } as RequestInit);
  const text = await response.text();
  expect(response.status, text).toBe(200);
  // Everything arrived, plus the subfolder field the gateway put in front.
  const received = (JSON.parse(text) as { received: number }).received;
  expect(received).toBeGreaterThan(total);
  expect(received - total).toBeLessThan(200);
  const after = memoryOf(gateway.pid);
  console.log(`gateway peak RSS grew by ${((after.peak - before.peak) / MB).toFixed(1)} MB`);
  expect(after.peak - before.peak).toBeLessThan(ALLOWED_GROWTH);
}, 60_000);

test("a WebSocket client that stops reading pushes back on ComfyUI instead of filling the gateway, and then gets everything in order", async () => {
  const COUNT = 300;
  const SIZE = 1024 * 1024; // 300 MB in 1 MB messages
  const socket = gateway.websocket("/ws?clientId=slow-reader") as unknown as Bun.WebSocket;
  socket.binaryType = "arraybuffer";
  let received = 0;
  let inOrder = true;
  socket.addEventListener("message", (event) => {
    if (typeof event.data !== "string" || !event.data.startsWith('{"type":"probe.flood"')) return;
    if (!event.data.startsWith(`{"type":"probe.flood","data":{"seq":${received},`)) inOrder = false;
    received++;
  });
  await new Promise((resolve) => socket.addEventListener("open", resolve, { once: true }));
  const before = memoryOf(gateway.pid);
  const pushedBackBefore = probe.wsBackpressured.count;
  socket.pause(); // the client stops reading: only TCP buffers fill
  socket.send(`flood:${COUNT}:${SIZE}`);
  const deadline = Date.now() + 20_000;
  while (probe.wsBackpressured.count === pushedBackBefore && Date.now() < deadline) await Bun.sleep(20);
  expect(probe.wsBackpressured.count).toBeGreaterThan(pushedBackBefore); // the push-back reached ComfyUI's side
  await Bun.sleep(300);
  const whilePaused = memoryOf(gateway.pid);
  socket.resume();
  while (received < COUNT && Date.now() < deadline + 40_000) await Bun.sleep(20);
  expect(received).toBe(COUNT);
  expect(inOrder).toBe(true);
  console.log(`gateway peak RSS grew by ${((whilePaused.peak - before.peak) / MB).toFixed(1)} MB while the client was paused, ${((memoryOf(gateway.pid).peak - before.peak) / MB).toFixed(1)} MB over the whole 300 MB`);
  expect(memoryOf(gateway.pid).peak - before.peak).toBeLessThan(ALLOWED_GROWTH);
  socket.close();
}, 90_000);

test("a 300 MB download streams to the client the same way", async () => {
  probe.behaviour.bodyBytes = 300 * MB;
  try {
    const before = memoryOf(gateway.pid);
    const response = await gateway.fetch(`/api/view?filename=big.bin&type=input`);
    let received = 0;
    const reader = response.body!.getReader();
    for (let part = await reader.read(); !part.done; part = await reader.read()) received += part.value.byteLength;
    expect(received).toBe(300 * MB);
    const after = memoryOf(gateway.pid);
    console.log(`gateway peak RSS grew by ${((after.peak - before.peak) / MB).toFixed(1)} MB`);
  expect(after.peak - before.peak).toBeLessThan(ALLOWED_GROWTH);
  } finally {
    probe.behaviour.bodyBytes = 16;
  }
}, 60_000);
