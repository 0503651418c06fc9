/**
 * "The path that was authorised is the path forwarded", proven on the wire: raw request targets
 * (checklist 5.1 of peers-and-security.md) go through the real gateway to the fake ComfyUI, whose
 * request log shows exactly what arrived. Every accepted target must arrive as the gateway's
 * canonical form of it, and every refused one must not arrive at all.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { canonicaliseTarget } from "../../src/gateway/request-target.ts";
import { classifyRoute } from "../../src/gateway/route-table.ts";
import { startFakeComfyUI, type FakeComfyUI } from "../fake-comfyui/server.ts";
import { rawHttp, startTestGateway, statusOf, type TestGateway } from "../support/gateway.ts";

let fake: FakeComfyUI;
let gateway: TestGateway;

beforeAll(async () => {
  fake = await startFakeComfyUI({ multiUser: true });
  gateway = await startTestGateway(fake.url);
});
afterAll(async () => {
  await gateway.stop();
  await fake.stop();
});

async function send(method: string, target: string, extraHeaders = ""): Promise<{ status: number; arrived: string | null; raw: string }> {
  fake.clearRequests();
  const raw = await gateway.raw(`${method} ${target} HTTP/1.1\r\nHost: gw.test\r\n${extraHeaders}Content-Length: 0\r\nConnection: close\r\n\r\n`);
  const arrived = fake.requests().filter((r) => r.target !== "/api/users");
  return { status: statusOf(raw), arrived: arrived.length > 0 ? arrived.at(-1)!.target : null, raw };
}

/** Targets the gateway accepts as sent; they must arrive byte-identical. */
const FORWARDED_AS_SENT: Array<[string, string]> = [
  ["GET", "/api/prompt"],
  ["GET", "/prompt"],
  ["GET", "/api/object_info?max_items=200&offset=0"],
  ["GET", "/view?x=/public/&filename=a.png&type=input"],
  ["GET", "/api/view?filename=up.png%20%5Binput%5D&type=output"],
  ["GET", "/api/userdata/workflows%2Fa.json"],
  ["GET", "/api/userdata/workflows%252Fa.json"],
  ["POST", "/api/userdata/workflows%2Fsub%2Fy.json?overwrite=false&full_info=true"],
  ["POST", "/api/userdata/workflows%2Fa.json/move/workflows%2Fb.json?overwrite=true"],
  ["GET", "/api/userdata?dir=workflows&recurse=true&split=false&full_info=true"],
  ["GET", "/api/v2/userdata?path=workflows"],
  ["GET", "/api/models/checkpoints"],
  ["GET", "/api/object_info/LoadImage"],
  ["GET", "/extensions/demo_node/demo.js"],
  ["GET", "/assets/app.js"],
  ["GET", "/"],
];

/** Targets the gateway rewrites into their canonical form before deciding and forwarding. */
const CANONICALISED: Array<[string, string, string]> = [
  // Decoded once and re-encoded: one spelling reaches ComfyUI (checklist 5.1.3).
  ["GET", "/api/%70rompt", "/api/prompt"],
  ["GET", "/api/%68istory", "/api/history"],
  // Dot segments, raw or encoded, resolved (by Bun's URL parser) before classification (5.1.5).
  ["GET", "/extensions/../api/prompt", "/api/prompt"],
  ["GET", "/api/./prompt", "/api/prompt"],
  ["GET", "/extensions/%2e%2e/api/queue", "/api/queue"],
  // The absolute form keeps only the path; the Host is the gateway's to set (5.1.12).
  ["GET", "http://evil.example/api/prompt", "/api/prompt"],
];

/** Targets refused with 400 before anything reaches ComfyUI. */
const REFUSED: string[] = [
  "//prompt", // 5.1.2
  "/api//prompt",
  "//api/prompt",
  "/api/userdata/..%2f..%2fusers.json", // 5.1.3
  "/api/userdata/workflows%2F..%2F..%2Fusers.json",
  "/api/userdata/%252e%252e%252fusers.json",
  "/api/prompt%00",
  "/api/%c0%ae%c0%ae/prompt",
  "/api%2Fprompt",
  "/api/%5cprompt", // 5.1.6
  "/api/prompt;.js", // 5.1.7
  "/api/prompt;x=1", // 5.1.8
];

describe("forwarded path = classified path", () => {
  for (const [method, target] of FORWARDED_AS_SENT) {
    test(`${method} ${target} arrives byte-identical`, async () => {
      const { arrived } = await send(method, target);
      expect(arrived).toBe(target);
      const canonical = canonicaliseTarget(target);
      if (!canonical.ok) throw new Error(canonical.error);
      expect(canonical.target.forwardPath + canonical.target.search).toBe(target);
    });
  }

  for (const [method, target, expected] of CANONICALISED) {
    test(`${method} ${target} is decided and forwarded as ${expected}`, async () => {
      const { arrived } = await send(method, target);
      expect(arrived).toBe(expected);
    });
  }

  for (const target of REFUSED) {
    test(`${target} is refused with 400 and never reaches ComfyUI`, async () => {
      const { status, arrived, raw } = await send("GET", target);
      expect(status).toBe(400);
      expect(arrived).toBeNull();
      expect(raw).toContain('"code":"BAD_');
    });
  }
});

describe("the decision is made on the route, not on spelling or suffix", () => {
  test("/x and /api/x share one route id and one decision (5.1.1)", async () => {
    for (const path of ["/prompt", "/queue", "/history", "/interrupt", "/view", "/userdata/workflows%2Fa.json"]) {
      const plain = canonicaliseTarget(path);
      const api = canonicaliseTarget(`/api${path}`);
      if (!plain.ok || !api.ok) throw new Error("expected both spellings to be accepted");
      expect(classifyRoute(api.target, "GET").routeId).toBe(classifyRoute(plain.target, "GET").routeId);
      expect((await send("GET", path)).status).toBe((await send("GET", `/api${path}`)).status);
    }
  });

  test("case, trailing slashes and static-looking suffixes do not open a route (5.1.4, 5.1.7, 5.1.8)", async () => {
    for (const target of ["/API/PROMPT", "/Api/Prompt", "/api/prompt/", "/api/history.css", "/api/api/prompt", "/api/internal/logs"]) {
      const { status, arrived } = await send("GET", target);
      expect(status).toBe(403);
      expect(arrived).toBeNull();
    }
    // A `.js` suffix is no static file: this is the userdata route for a file named x.js.
    const userFile = canonicaliseTarget("/api/userdata/x.js");
    if (!userFile.ok) throw new Error(userFile.error);
    expect(classifyRoute(userFile.target, "GET")).toMatchObject({ kind: "comfy", routeId: "userdata.file" });
  });

  test("operator-only ComfyUI routes (server logs and paths, every user's files, user creation) are refused to non-admins", async () => {
    for (const [method, target] of [["GET", "/internal/logs"], ["GET", "/internal/logs/raw"], ["PATCH", "/internal/logs/subscribe"], ["GET", "/internal/folder_paths"], ["GET", "/internal/files/output"], ["POST", "/api/users"], ["POST", "/users"]] as const) {
      const { status, arrived, raw } = await send(method, target);
      expect(status).toBe(403);
      expect(raw).toContain('"code":"ADMIN_ONLY"');
      expect(arrived).toBeNull();
    }
    // Listing users stays open: ComfyUI's front end needs it to start.
    expect((await send("GET", "/api/users")).status).toBe(200);
  });

  test("routing headers and method overrides change nothing and never reach ComfyUI (5.1.10, 5.1.11)", async () => {
    const headers = "X-Original-URL: /manager/reboot\r\nX-Rewrite-URL: /manager/reboot\r\nX-Forwarded-Uri: /manager/reboot\r\nX-Forwarded-Prefix: /evil\r\nX-HTTP-Method-Override: DELETE\r\n";
    const { status, arrived } = await send("GET", "/api/prompt", headers);
    expect(status).toBe(200);
    expect(arrived).toBe("/api/prompt");
    const seen = fake.requests().at(-1)!.headers;
    for (const name of ["x-original-url", "x-rewrite-url", "x-forwarded-uri", "x-forwarded-prefix", "x-http-method-override"]) expect(seen[name]).toBeUndefined();
    expect(seen["host"]).toBe(`127.0.0.1:${fake.port}`);
  });

  test("HEAD on a POST-only route and OPTIONS never reach a state-changing handler (5.1.10)", async () => {
    expect((await send("HEAD", "/api/interrupt")).arrived).toBeNull();
    expect((await send("OPTIONS", "/api/prompt")).arrived).toBeNull();
    expect((await send("OPTIONS", "/api/queue")).status).toBe(204);
  });

  test("ambiguous framing and underscore identity headers are refused or dropped (5.1.14)", async () => {
    fake.clearRequests();
    const smuggled = await gateway.raw("POST /api/prompt HTTP/1.1\r\nHost: gw\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n");
    expect(statusOf(smuggled)).toBe(400);
    const duplicate = await gateway.raw("POST /api/prompt HTTP/1.1\r\nHost: gw\r\nContent-Length: 2\r\nContent-Length: 3\r\nConnection: close\r\n\r\n{}");
    expect(statusOf(duplicate)).toBe(400);
    expect(fake.requests().filter((r) => r.target === "/api/prompt")).toEqual([]);
    const { arrived } = await send("GET", "/api/settings", "Comfy_User: alice\r\ncomfy-user: alice\r\n");
    expect(arrived).toBe("/api/settings");
    const seen = fake.requests().at(-1)!.headers;
    expect(seen["comfy_user"]).toBeUndefined();
    expect(seen["comfy-user"]).toStartWith("mss_tester_"); // the gateway's ComfyUI user for the signed-in account
  });
});
