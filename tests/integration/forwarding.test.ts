/**
 * The forwarder's mechanics through the real gateway (in-process Bun.serve) to a controllable
 * upstream: which headers cross, bodies streaming both ways, limits, upstream failures, and the
 * WebSocket relay's frames and close codes.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rawHttp, startTestGateway, statusOf, type TestGateway } from "../support/gateway.ts";
import { PROBE_PROMPT_ID, probePreviewFrame, startGarbageUpstream, startProbeUpstream, type ProbeUpstream } from "../support/probe-upstream.ts";
import { openDatabase } from "../../src/db/index.ts";
import { createOwnershipStore } from "../../src/isolation/ownership.ts";

let probe: ProbeUpstream;
let gateway: TestGateway;
const MAX_UPLOAD = 2 * 1024 * 1024;

beforeAll(async () => {
  probe = await startProbeUpstream();
  // Without the NSFW check: this file is about faithful forwarding; the guard (which withholds checked users' previews and re-labels or refuses their images) has its own tests (nsfw-*.test.ts).
  gateway = await startTestGateway(
    probe.url,
    [],
    {
      MSS_LOGIN_LIMITS__MAX_UPLOAD_BYTES: String(MAX_UPLOAD),
      MSS_LOGIN_UPSTREAM__RESPONSE_TIMEOUT_MS: "400",
    },
    "user",
    { sfwCheck: false },
  );
});
afterAll(async () => {
  await gateway.stop();
  await probe.stop();
});

function lastRequest() {
  const last = probe.requests.at(-1);
  if (!last) throw new Error("the upstream saw no request");
  return last;
}

describe("request headers", () => {
  test("identity, routing and hop-by-hop headers never reach the upstream; Host and Origin are the upstream's", async () => {
    const response = await gateway.fetch(`/api/userdata/x.json`, {
      method: "POST",
      body: "{}",
      headers: {
        "content-type": "application/json",
        "comfy-user": "alice_0000",
        "x-forwarded-for": "1.2.3.4",
        "x-forwarded-host": "evil.example",
        "x-forwarded-proto": "https",
        forwarded: "for=1.2.3.4",
        "x-real-ip": "1.2.3.4",
        "x-original-url": "/admin",
        "x-rewrite-url": "/admin",
        "x-http-method-override": "DELETE",
        authorization: `Bearer ${gateway.account.token}`,
        cookie: "mss_session=secret",
        "sec-fetch-site": "same-origin",
        origin: gateway.url,
        connection: "keep-alive, x-drop-me",
        "x-drop-me": "1",
        "x-keep-me": "kept",
      },
    });
    expect(response.status).toBe(200);
    const seen = lastRequest().headers;
    for (const name of ["comfy-user", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "forwarded", "x-real-ip", "x-original-url", "x-rewrite-url", "x-http-method-override", "authorization", "cookie", "sec-fetch-site", "x-drop-me"]) {
      expect(seen[name]).toBeUndefined();
    }
    expect(seen["x-keep-me"]).toBe("kept");
    expect(seen["host"]).toBe(`127.0.0.1:${probe.port}`);
    expect(seen["origin"]).toBe(probe.url);
    expect(lastRequest().method).toBe("POST");
  });

  test("header names with underscores are dropped whole (Comfy_User, X_Forwarded_For)", async () => {
    const raw = await gateway.raw("GET /api/prompt HTTP/1.1\r\nHost: gw\r\nComfy_User: alice\r\nX_Forwarded_For: 1.2.3.4\r\nConnection: close\r\n\r\n");
    expect(statusOf(raw)).toBe(200);
    const names = Object.keys(lastRequest().headers);
    expect(names.filter((n) => n.includes("_"))).toEqual([]);
  });

  test("a client that sent no Accept-Encoding is not answered with an encoding it did not ask for", async () => {
    await gateway.fetch(`/api/prompt`, { headers: { "accept-encoding": "" } });
    const raw = await gateway.raw("GET /api/prompt HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n");
    expect(statusOf(raw)).toBe(200);
    expect(lastRequest().headers["accept-encoding"]).toBe("identity");
  });
});

describe("responses", () => {
  test("hop-by-hop response headers are removed, every Set-Cookie is kept", async () => {
    const response = await gateway.fetch(`/api/prompt`);
    expect(response.headers.get("x-hop")).toBeNull();
    expect(response.headers.get("keep-alive")).toBeNull();
    expect(response.headers.getSetCookie()).toEqual(["a=1; Path=/", "b=2; Path=/"]);
  });

  test("upstream CORS headers never reach the client: the gateway owns cross-origin policy (checklist 5.5.41)", async () => {
    const response = await gateway.fetch("/api/prompt");
    for (const name of ["access-control-allow-origin", "access-control-allow-credentials", "access-control-allow-methods"]) expect(response.headers.get(name)).toBeNull();
  });

  test("a compressed upstream body passes through still compressed", async () => {
    probe.behaviour.gzip = true;
    probe.behaviour.bodyBytes = 4096;
    try {
      const raw = await gateway.raw("GET /api/view?filename=x.bin&type=input HTTP/1.1\r\nHost: gw\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n");
      expect(statusOf(raw)).toBe(200);
      expect(raw.toLowerCase()).toContain("content-encoding: gzip");
    } finally {
      probe.behaviour.gzip = false;
      probe.behaviour.bodyBytes = 16;
    }
  });

  test("a large response streams through intact", async () => {
    probe.behaviour.bodyBytes = 20 * 1024 * 1024;
    try {
      const response = await gateway.fetch(`/api/view?filename=big.bin&type=input`);
      const body = new Uint8Array(await response.arrayBuffer());
      expect(body.byteLength).toBe(20 * 1024 * 1024);
      expect(body[1000]).toBe(1000 % 251);
      expect(body[body.byteLength - 1]).toBe((body.byteLength - 1) % 251);
    } finally {
      probe.behaviour.bodyBytes = 16;
    }
  });
});

describe("request bodies and the upload limit", () => {
  test("a body under the limit is streamed to the upstream, with or without a declared length", async () => {
    const declared = await gateway.fetch(`/api/userdata/blob.bin`, { method: "POST", body: new Uint8Array(MAX_UPLOAD - 10) });
    expect(await declared.json()).toEqual({ received: MAX_UPLOAD - 10 });
    const chunked = await gateway.fetch(`/api/userdata/blob.bin`, {
      method: "POST",
      body: new ReadableStream({
        start(controller) {
          for (let i = 0; i < 8; i++) controller.enqueue(new Uint8Array(1024));
          controller.close();
        },
      }),
    });
    expect(await chunked.json()).toEqual({ received: 8192 });
  });

  test("a declared length over the limit is refused with 413 before the upstream is contacted", async () => {
    const before = probe.requests.length;
    const response = await gateway.fetch(`/api/userdata/blob.bin`, { method: "POST", body: new Uint8Array(MAX_UPLOAD + 1) });
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ code: "UPLOAD_TOO_LARGE" });
    expect(probe.requests.length).toBe(before);
  });

  test("a chunked body that grows past the limit is cut off with 413", async () => {
    const response = await gateway.fetch(`/api/userdata/blob.bin`, {
      method: "POST",
      body: new ReadableStream({
        start(controller) {
          for (let i = 0; i < 40; i++) controller.enqueue(new Uint8Array(64 * 1024));
          controller.close();
        },
      }),
    });
    expect(response.status).toBe(413);
  });
});

describe("refusals made by the gateway itself", () => {
  test("an unknown route is refused with JSON for API callers and a page for browsers", async () => {
    const api = await gateway.fetch(`/some-node/reboot`, { method: "POST" });
    expect(api.status).toBe(403);
    expect(await api.json()).toEqual({ error: expect.any(String), code: "ROUTE_NOT_ALLOWED" });
    const page = await gateway.fetch(`/some-node/version`, { headers: { accept: "text/html", "sec-fetch-mode": "navigate" } });
    expect(page.status).toBe(403);
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(await page.text()).toContain("Access denied");
  });

  test("a method the route does not take is 405 with Allow; OPTIONS is answered without reaching the upstream", async () => {
    const before = probe.requests.length;
    const wrong = await gateway.fetch(`/api/interrupt`, { method: "GET" });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toContain("POST");
    const options = await gateway.fetch(`/api/prompt`, { method: "OPTIONS" });
    expect(options.status).toBe(204);
    expect(probe.requests.length).toBe(before);
  });

  test("a bad path is 400 with a code, and nothing is forwarded", async () => {
    const before = probe.requests.length;
    for (const target of ["/api/prompt%00", "/api%2Fprompt", "/api/%5cprompt", "//api/prompt"]) {
      const raw = await gateway.raw(`GET ${target} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n`);
      expect(statusOf(raw)).toBe(400);
      expect(raw).toContain('"code":"BAD_PATH');
    }
    expect(probe.requests.length).toBe(before);
  });

  test("dot segments, raw or encoded, are resolved before classification and the resolved path is what is forwarded", async () => {
    // Bun's URL parser resolves `..`, `%2e%2e` and `\\` (WHATWG rules) before the gateway sees the
    // target; the gateway classifies that result and forwards exactly it.
    const raw = await gateway.raw("GET /extensions/%2e%2e/api/prompt HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n");
    expect(statusOf(raw)).toBe(200);
    expect(lastRequest().target).toBe("/api/prompt");
  });
});

describe("requests from other sites (CSRF, cross-site WebSocket hijacking)", () => {
  async function refused(init: RequestInit & { headers: Record<string, string> }, path = "/api/prompt") {
    const before = probe.requests.length;
    const response = await gateway.fetch(path, init);
    expect(response.status).toBe(403);
    expect(probe.requests.length).toBe(before);
    const text = await response.text();
    // Navigations get the readable page, which names the code too.
    return response.headers.get("content-type")?.includes("html") ? { code: /<code>([A-Z_]+)<\/code>/.exec(text)?.[1] ?? "" } : (JSON.parse(text) as { code: string });
  }

  test("a foreign or null Origin is refused before anything is forwarded", async () => {
    expect((await refused({ method: "POST", body: "{}", headers: { origin: "http://evil.example" } })).code).toBe("CROSS_ORIGIN_REQUEST");
    expect((await refused({ method: "POST", body: "{}", headers: { origin: "null" } })).code).toBe("CROSS_ORIGIN_REQUEST");
    expect((await refused({ method: "POST", body: "{}", headers: { origin: "null", "sec-fetch-site": "cross-site" } })).code).toBe("CROSS_SITE_REQUEST");
    // Same host name, other port: another origin.
    expect((await refused({ method: "POST", body: "{}", headers: { origin: `http://127.0.0.1:${probe.port}` } })).code).toBe("CROSS_ORIGIN_REQUEST");
  });

  test("Origin: null is accepted only when the browser's fetch metadata says same-origin (a form on a no-referrer page)", async () => {
    const response = await gateway.fetch(`/api/prompt`, { method: "POST", headers: { origin: "null", "sec-fetch-site": "same-origin", "content-type": "application/json" }, body: "{}" });
    expect(response.status).not.toBe(403);
  });

  test("a cross-site fetch is refused even without an Origin; a cross-site navigation is allowed", async () => {
    expect((await refused({ headers: { "sec-fetch-site": "cross-site", "sec-fetch-mode": "cors" } }, "/api/queue")).code).toBe("CROSS_SITE_REQUEST");
    expect((await refused({ headers: { "sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate", "sec-fetch-dest": "embed" } }, "/")).code).toBe("CROSS_SITE_REQUEST");
    const navigation = await gateway.fetch(`/api/prompt`, { headers: { "sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate", "sec-fetch-dest": "document" } });
    expect(navigation.status).toBe(200);
  });

  test("a WebSocket upgrade from another origin is refused", async () => {
    const response = await gateway.fetch(`/ws`, {
      headers: { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13", origin: "http://evil.example" },
    });
    expect(response.status).toBe(403);
  });

  test("with public_origins set, only those origins may send requests", async () => {
    const gw = await startTestGateway(probe.url, [], { MSS_LOGIN_PUBLIC_ORIGINS: `https://comfy.example.com,${"http://127.0.0.1"}` });
    try {
      const ok = await gw.raw("POST /api/userdata/x.json HTTP/1.1\r\nHost: comfy.example.com\r\nOrigin: https://comfy.example.com\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
      expect(statusOf(ok)).toBe(200);
      const wrong = await gw.raw("POST /api/userdata/x.json HTTP/1.1\r\nHost: comfy.example.com\r\nOrigin: http://comfy.example.com\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
      expect(statusOf(wrong)).toBe(403);
    } finally {
      await gw.stop();
    }
  });
});

describe("Host validation (checklist 5.1.12)", () => {
  test("with public_origins set, a request for another host is refused with 421 and nothing is forwarded", async () => {
    const gw = await startTestGateway(probe.url, [], { MSS_LOGIN_PUBLIC_ORIGINS: "https://comfy.example.com" });
    try {
      const before = probe.requests.length;
      const wrong = await gw.raw("GET /api/prompt HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
      expect(statusOf(wrong)).toBe(421);
      expect(probe.requests.length).toBe(before);
      const right = await gw.raw("GET /api/prompt HTTP/1.1\r\nHost: comfy.example.com\r\nConnection: close\r\n\r\n");
      expect(statusOf(right)).toBe(200);
      expect(lastRequest().headers["host"]).toBe(`127.0.0.1:${probe.port}`);
    } finally {
      await gw.stop();
    }
  });
});

describe("upstream failures", () => {
  test("a slow upstream gives 504 after the response timeout", async () => {
    probe.behaviour.delayMs = 1500;
    try {
      const response = await gateway.fetch(`/api/prompt`);
      expect(response.status).toBe(504);
      expect(await response.json()).toMatchObject({ code: "UPSTREAM_TIMEOUT" });
    } finally {
      probe.behaviour.delayMs = 0;
    }
  });

  test("a slow upload is not mistaken for a slow ComfyUI: the response timeout counts from the last byte sent", async () => {
    let sent = 0;
    const response = await gateway.fetch(`/api/userdata/blob.bin`, {
      method: "POST",
      body: new ReadableStream({
        async pull(controller) {
          if (sent === 6) return controller.close();
          await Bun.sleep(150); // 6 x 150 ms: well past the 400 ms response timeout in total
          controller.enqueue(new Uint8Array(1000));
          sent++;
        },
      }),
      duplex: "half",
    } as RequestInit);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ received: 6000 });
  });

  test("a down upstream gives 502 JSON to API callers and a readable page to browsers; the gateway's own routes still answer", async () => {
    const down = await startTestGateway("http://127.0.0.1:9"); // discard port: nothing listens
    try {
      const api = await down.fetch(`/api/prompt`);
      expect(api.status).toBe(502);
      expect(await api.json()).toMatchObject({ code: "UPSTREAM_UNAVAILABLE" });
      const page = await down.fetch(`/`, { headers: { accept: "text/html", "sec-fetch-mode": "navigate" } });
      expect(page.status).toBe(502);
      const html = await page.text();
      expect(html).toContain("ComfyUI is down");
      expect(html).not.toContain("127.0.0.1:9"); // internal addresses are not shown
      const health = await down.fetch(`/mss-login/health`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ status: "degraded", upstream: { reachable: false } });
      const ws = await down.fetch(`/ws`, { headers: { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" } });
      expect(ws.status).toBe(502);
    } finally {
      await down.stop();
    }
  });

  test("an upstream that answers garbage gives 502 and the gateway keeps serving", async () => {
    const garbage = await startGarbageUpstream();
    const gw = await startTestGateway(garbage.url);
    try {
      for (let i = 0; i < 3; i++) {
        const response = await gw.fetch(`/api/prompt`);
        expect(response.status).toBe(502);
      }
      expect((await gw.fetch(`/mss-login/health`)).status).toBe(200);
    } finally {
      await gw.stop();
      garbage.stop();
    }
  });
});

describe("WebSocket relay", () => {
  function connect(path = "/ws?clientId=relay-test"): Promise<{ socket: WebSocket; messages: Array<string | Uint8Array>; closed: Promise<CloseEvent> }> {
    const socket = gateway.websocket(path);
    socket.binaryType = "arraybuffer";
    const messages: Array<string | Uint8Array> = [];
    socket.onmessage = (event) => messages.push(typeof event.data === "string" ? event.data : new Uint8Array(event.data as ArrayBuffer));
    const closed = new Promise<CloseEvent>((resolve) => (socket.onclose = resolve));
    return new Promise((resolve, reject) => {
      socket.onopen = () => resolve({ socket, messages, closed });
      socket.onerror = () => reject(new Error("websocket failed"));
    });
  }

  async function until(predicate: () => boolean, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error("condition not met in time");
      await Bun.sleep(5);
    }
  }

  test("the upstream's first frame arrives, text and binary frames cross both ways in order and keep their kind", async () => {
    // The relay filters per user: the previews below belong to a prompt of the test account's.
    const database = openDatabase(gateway.dataDir);
    createOwnershipStore(database.db).recordPrompt({ promptId: PROBE_PROMPT_ID, owner: { userId: gateway.account.userId, username: "tester" }, clientId: null, now: Date.now() });
    database.close();
    const { socket, messages } = await connect();
    await until(() => messages.length >= 1);
    // (The probe names itself; ComfyUI would name the minted sid, which the relay turns back into the client's id.)
    expect(messages[0]).toBe(JSON.stringify({ type: "status", data: { sid: "probe" } }));
    const hello = JSON.stringify({ type: "probe.hello", data: {} });
    const preview = probePreviewFrame(new Uint8Array([9, 8, 7]));
    const burst = JSON.stringify({ type: "probe.burst", data: {} });
    socket.send(hello);
    socket.send(preview);
    socket.send(burst);
    await until(() => messages.length >= 1 + 3 + 200);
    expect(messages[1]).toBe(hello);
    expect(messages[2]).toEqual(preview);
    expect(messages[3]).toBe(burst);
    for (let i = 0; i < 200; i++) {
      const m = messages[4 + i];
      if (i % 2 === 0) expect(m).toBe(JSON.stringify({ type: "probe.burst", data: { i } }));
      else expect(m).toEqual(probePreviewFrame(new Uint8Array([i & 255, 1, 2])));
    }
    const received = probe.wsReceived.slice(-3);
    expect(received[0]).toBe(hello);
    expect(new Uint8Array(received[1] as Uint8Array)).toEqual(preview);
    socket.close();
  });

  test("the upstream's close code reaches the client", async () => {
    const { socket, closed } = await connect();
    socket.send("close:4001");
    const event = await closed;
    expect(event.code).toBe(4001);
    expect(event.reason).toBe("upstream closes 4001");
  });

  test("the client's close code reaches the upstream", async () => {
    const { socket } = await connect();
    const before = probe.wsCloses.length;
    socket.close(4002, "client leaves");
    await until(() => probe.wsCloses.length > before);
    expect(probe.wsCloses.at(-1)).toEqual({ code: 4002, reason: "client leaves" });
  });

  test("the upgrade reaches the upstream with its Origin and without client identity headers", async () => {
    const socket = gateway.websocket("/api/ws?clientId=abc", { origin: gateway.url, "comfy-user": "mallory" });
    await new Promise((resolve) => (socket.onopen = resolve));
    const upgrade = probe.requests.filter((r) => r.target.startsWith("/api/ws")).at(-1)!;
    // The client's id is replaced by one the gateway minted (no one can take over another's socket).
    expect(upgrade.target).toMatch(/^\/api\/ws\?clientId=[0-9a-f]{32}$/);
    expect(upgrade.headers["origin"]).toBe(probe.url);
    expect(upgrade.headers["comfy-user"]).toBeUndefined();
    socket.close();
  });
});
