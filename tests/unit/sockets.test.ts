/**
 * The socket directory (src/isolation/sockets.ts): per-user upstream sids, resume and hijack,
 * reconnects that must not share a sid, the `status` sid rewrite, and per-owner filtering of
 * JSON and binary frames with the "what is executing" attribution. Driven through the
 * RelayPolicy lifecycle the bridge uses (claim → opened → messages → closed).
 */
import { describe, expect, test } from "bun:test";
import type { RelayPolicy } from "../../src/gateway/websocket-bridge.ts";
import { withUpstreamClientId } from "../../src/gateway/websocket-bridge.ts";
import type { Owner } from "../../src/isolation/ownership.ts";
import { BINDING_IDLE_MS, createSocketDirectory, MAX_BINDINGS_PER_USER, REPLACED_CLOSE_CODE, type PreviewGate } from "../../src/isolation/sockets.ts";

const ALICE = "a1a1a1a1-0000-4000-8000-000000000001";
const BOB = "b2b2b2b2-0000-4000-8000-000000000002";
const P_ALICE = "11111111-1111-4111-8111-111111111111";
const P_ALICE_2 = "11111111-1111-4111-8111-222222222222";
const P_BOB = "22222222-2222-4222-8222-222222222222";
const P_UNKNOWN = "99999999-9999-4999-8999-999999999999";

/** An ownership store in memory: prompts → owners, and the outputs recorded. */
function fakeOwnership() {
  const owners = new Map<string, Owner>([
    [P_ALICE, { userId: ALICE, username: "alice" }],
    [P_ALICE_2, { userId: ALICE, username: "alice" }],
    [P_BOB, { userId: BOB, username: "bob" }],
  ]);
  const recorded: Array<{ promptId: string; output: unknown; now: number }> = [];
  let lookups = 0;
  return {
    recorded,
    lookups: () => lookups,
    ownerOfPrompt(promptId: string): Owner | null {
      lookups++;
      return owners.get(promptId) ?? null;
    },
    recordOutputs(promptId: string, output: unknown, now: number): void {
      recorded.push({ promptId, output, now });
    },
  };
}

function setup(options: { takeoverTimeoutMs?: number } = {}) {
  const ownership = fakeOwnership();
  let clock = 1_796_044_000_000;
  const directory = createSocketDirectory({ ownership, now: () => clock, ...options });
  return { ownership, directory, advance: (ms: number) => (clock += ms), now: () => clock };
}

/** A relay as the bridge drives it: claimed and opened, with a record of how it was ended. */
interface TestRelay {
  policy: RelayPolicy;
  sid: string;
  ended: Array<{ code: number; reason: string }>;
  text(message: string): string | null;
  binary(frame: Uint8Array): boolean;
  close(): void;
}

async function openRelay(policy: RelayPolicy): Promise<TestRelay> {
  const claimed = await policy.claim();
  if (!claimed) throw new Error("claim refused");
  const ended: Array<{ code: number; reason: string }> = [];
  policy.opened((code, reason) => ended.push({ code, reason }), () => {});
  return {
    policy,
    sid: policy.upstreamClientId,
    ended,
    text: (message) => policy.toClientText(message),
    binary: (frame) => policy.toClientBinary(frame),
    close: () => policy.closed(),
  };
}

/** ComfyUI's spelling of a message (Python json.dumps separators). */
function message(type: string, data: Record<string, unknown>): string {
  return JSON.stringify({ type, data }).replaceAll('":', '": ').replaceAll('","', '", "').replaceAll(',"', ', "');
}

function u32(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value);
  return bytes;
}

function frame(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((part) => [...part]));
}

const PNG_BYTES = Uint8Array.from([0x89, 0x50, 0x4e, 0x47]);
const previewFrame = () => frame(u32(1), u32(2), PNG_BYTES);
const textFrame = (nodeId: string, text: string) => {
  const node = new TextEncoder().encode(nodeId);
  return frame(u32(3), u32(node.length), node, new TextEncoder().encode(text));
};
const metadataFrame = (promptId: string) => {
  const json = new TextEncoder().encode(JSON.stringify({ node_id: "3", prompt_id: promptId, display_node_id: "3", parent_node_id: null, real_node_id: "3", image_type: "image/png" }));
  return frame(u32(4), u32(json.length), json, PNG_BYTES);
};

const HEX32 = /^[0-9a-f]{32}$/;

describe("upstream sids", () => {
  test("every socket gets a gateway-minted sid, never the clientId it asked for", async () => {
    const { directory } = setup();
    const relay = await openRelay(directory.policyFor(ALICE, "abc"));
    expect(relay.sid).toMatch(HEX32);
    expect(relay.sid).not.toBe("abc");
    expect(directory.upstreamSidFor(ALICE, "abc")).toBe(relay.sid);
  });

  test("the same user reconnecting with the same clientId resumes the same sid", async () => {
    const { directory } = setup();
    const first = await openRelay(directory.policyFor(ALICE, "tab-1"));
    first.close();
    const second = await openRelay(directory.policyFor(ALICE, "tab-1"));
    expect(second.sid).toBe(first.sid);
    const otherTab = await openRelay(directory.policyFor(ALICE, "tab-2"));
    expect(otherTab.sid).not.toBe(first.sid);
  });

  test("another user presenting that clientId gets a sid of their own, and the owner's socket is left alone", async () => {
    const { directory } = setup();
    const alice = await openRelay(directory.policyFor(ALICE, "shared-id"));
    const bob = await openRelay(directory.policyFor(BOB, "shared-id"));
    expect(bob.sid).not.toBe(alice.sid);
    expect(alice.ended).toEqual([]);
    expect(directory.upstreamSidFor(ALICE, "shared-id")).toBe(alice.sid);
    expect(directory.upstreamSidFor(BOB, "shared-id")).toBe(bob.sid);
    expect(directory.upstreamSidFor("someone-else", "shared-id")).toBeNull();
    expect(directory.upstreamSidFor(ALICE, "never-used")).toBeNull();
  });

  test("a socket without a clientId gets one minted, and sees it as its sid", async () => {
    const { directory } = setup();
    const relay = await openRelay(directory.policyFor(ALICE, null));
    const status = relay.text(message("status", { status: { exec_info: { queue_remaining: 0 } }, sid: relay.sid }))!;
    const clientId = (JSON.parse(status) as { data: { sid: string } }).data.sid;
    expect(clientId).toMatch(HEX32);
    expect(clientId).not.toBe(relay.sid);
    expect(directory.upstreamSidFor(ALICE, clientId)).toBe(relay.sid);
  });

  test("an unusable clientId (too long, odd characters) is replaced by a minted one", async () => {
    const { directory } = setup();
    for (const requested of ["x".repeat(129), 'quo"te', "sp ace", ""]) {
      const relay = await openRelay(directory.policyFor(ALICE, requested));
      const status = relay.text(message("status", { status: {}, sid: relay.sid }))!;
      expect((JSON.parse(status) as { data: { sid: string } }).data.sid).toMatch(HEX32);
      relay.close();
    }
  });

  test("status keeps the client's clientId in place of the upstream sid, byte for byte otherwise", async () => {
    const { directory } = setup();
    const relay = await openRelay(directory.policyFor(ALICE, "my-tab"));
    const upstream = `{"type": "status", "data": {"status": {"exec_info": {"queue_remaining": 3}}, "sid": "${relay.sid}"}}`;
    expect(relay.text(upstream)).toBe('{"type": "status", "data": {"status": {"exec_info": {"queue_remaining": 3}}, "sid": "my-tab"}}');
    const broadcast = '{"type": "status", "data": {"status": {"exec_info": {"queue_remaining": 1}}}}';
    expect(relay.text(broadcast)).toBe(broadcast);
  });

  test("a policy that never becomes a socket binds nothing", () => {
    const { directory } = setup();
    directory.policyFor(ALICE, "only-a-get");
    expect(directory.upstreamSidFor(ALICE, "only-a-get")).toBeNull();
  });

  test("latestSidOf is the most recently opened socket still open", async () => {
    const { directory } = setup();
    expect(directory.latestSidOf(ALICE)).toBeNull();
    const first = await openRelay(directory.policyFor(ALICE, "one"));
    const second = await openRelay(directory.policyFor(ALICE, "two"));
    await openRelay(directory.policyFor(BOB, "three"));
    expect(directory.latestSidOf(ALICE)).toBe(second.sid);
    expect(directory.openSocketCount(ALICE)).toBe(2);
    second.close();
    expect(directory.latestSidOf(ALICE)).toBe(first.sid);
    first.close();
    expect(directory.latestSidOf(ALICE)).toBeNull();
    // The binding outlives the socket: a prompt bound now reaches the socket when it comes back.
    expect(directory.upstreamSidFor(ALICE, "one")).toBe(first.sid);
  });
});

describe("reconnects never leave two upstream sockets with one sid", () => {
  test("a reconnect while the old socket is open closes the old relay and waits for it to be gone", async () => {
    const { directory } = setup();
    const old = await openRelay(directory.policyFor(ALICE, "tab"));
    const next = directory.policyFor(ALICE, "tab");
    let claimed: boolean | null = null;
    const claiming = Promise.resolve(next.claim()).then((value) => (claimed = value));
    await Bun.sleep(5);
    expect(old.ended).toEqual([{ code: REPLACED_CLOSE_CODE, reason: "replaced by a newer connection with the same clientId" }]);
    expect(claimed).toBeNull(); // still waiting: the old upstream socket has not closed yet
    old.close();
    await claiming;
    expect(claimed as unknown as boolean).toBe(true);
    expect(next.upstreamClientId).toBe(old.sid);
  });

  test("a relay asked to end before it was open ends as soon as it opens", async () => {
    const { directory } = setup();
    const old = directory.policyFor(ALICE, "tab");
    expect(await old.claim()).toBe(true);
    const next = directory.policyFor(ALICE, "tab");
    const claiming = Promise.resolve(next.claim());
    const ended: number[] = [];
    old.opened((code) => ended.push(code), () => {});
    expect(ended).toEqual([REPLACED_CLOSE_CODE]);
    old.closed();
    expect(await claiming).toBe(true);
  });

  test("when the old socket does not close in time, the binding moves to a fresh sid", async () => {
    const { directory } = setup({ takeoverTimeoutMs: 20 });
    const stuck = await openRelay(directory.policyFor(ALICE, "tab"));
    const next = await openRelay(directory.policyFor(ALICE, "tab"));
    expect(next.sid).not.toBe(stuck.sid);
    expect(directory.upstreamSidFor(ALICE, "tab")).toBe(next.sid);
    // The stuck one closing later does not unbind the new one.
    stuck.close();
    expect(directory.upstreamSidFor(ALICE, "tab")).toBe(next.sid);
    expect(directory.latestSidOf(ALICE)).toBe(next.sid);
  });

  test("in a storm of reconnects the newest wins; the ones overtaken while waiting give way", async () => {
    const { directory } = setup();
    const old = await openRelay(directory.policyFor(ALICE, "tab"));
    const storm = [1, 2, 3].map(() => directory.policyFor(ALICE, "tab"));
    const claims = storm.map((policy) => Promise.resolve(policy.claim()));
    await Bun.sleep(5);
    old.close();
    expect(await Promise.all(claims)).toEqual([false, false, true]);
    expect(storm[2]!.upstreamClientId).toBe(old.sid);
  });
});

describe("bounds", () => {
  test("a user keeps at most MAX_BINDINGS_PER_USER bindings; the least recently used idle one goes", async () => {
    const { directory } = setup();
    const open = await openRelay(directory.policyFor(ALICE, "keep-open"));
    for (let i = 0; i < MAX_BINDINGS_PER_USER + 5; i++) (await openRelay(directory.policyFor(ALICE, `c${i}`))).close();
    expect(directory.upstreamSidFor(ALICE, "keep-open")).toBe(open.sid);
    expect(directory.upstreamSidFor(ALICE, "c0")).toBeNull();
    expect(directory.upstreamSidFor(ALICE, `c${MAX_BINDINGS_PER_USER + 4}`)).not.toBeNull();
  });

  test("bindings idle for a day are forgotten; open ones stay", async () => {
    const { directory, advance } = setup();
    (await openRelay(directory.policyFor(ALICE, "idle"))).close();
    const open = await openRelay(directory.policyFor(ALICE, "open"));
    advance(BINDING_IDLE_MS + 1);
    directory.sweep();
    expect(directory.upstreamSidFor(ALICE, "idle")).toBeNull();
    expect(directory.upstreamSidFor(ALICE, "open")).toBe(open.sid);
  });
});

describe("JSON messages", () => {
  test("messages of a prompt reach only its owner; unknown prompts reach nobody", async () => {
    const { directory } = setup();
    const alice = await openRelay(directory.policyFor(ALICE, "a"));
    const bob = await openRelay(directory.policyFor(BOB, "b"));
    for (const [type, data] of [
      ["execution_start", { prompt_id: P_ALICE, timestamp: 1 }],
      ["executing", { node: "3", display_node: "3", prompt_id: P_ALICE }],
      ["progress", { value: 1, max: 20, prompt_id: P_ALICE, node: "3" }],
      ["progress_state", { prompt_id: P_ALICE, nodes: { "3": { value: 1, max: 20, state: "running", prompt_id: P_ALICE } } }],
      ["execution_interrupted", { prompt_id: P_ALICE, node_id: "3", node_type: "KSampler", executed: [], timestamp: 2 }],
    ] as const) {
      const text = message(type, data);
      expect(alice.text(text)).toBe(text);
      expect(bob.text(text)).toBeNull();
    }
    const unknown = message("executing", { node: "1", prompt_id: P_UNKNOWN });
    expect(alice.text(unknown)).toBeNull();
    expect(bob.text(unknown)).toBeNull();
  });

  test("executed records the outputs as the owner's, and only where it is delivered", async () => {
    const { directory, ownership, now } = setup();
    const alice = await openRelay(directory.policyFor(ALICE, "a"));
    const bob = await openRelay(directory.policyFor(BOB, "b"));
    const output = { images: [{ filename: "x_00001_.png", subfolder: `u-${ALICE}`, type: "output" }] };
    const text = message("executed", { node: "9", display_node: "9", output, prompt_id: P_ALICE });
    expect(bob.text(text)).toBeNull();
    expect(ownership.recorded).toEqual([]);
    expect(alice.text(text)).toBe(text);
    expect(ownership.recorded).toEqual([{ promptId: P_ALICE, output, now: now() }]);
  });

  test("a prompt_id nested in the output does not decide: the top-level one does", async () => {
    const { directory } = setup();
    const bob = await openRelay(directory.policyFor(BOB, "b"));
    const text = message("executed", { node: "9", output: { text: [{ prompt_id: P_BOB }] }, prompt_id: P_ALICE });
    expect(bob.text(text)).toBeNull();
  });

  test("feature_flags and prompt-less extension broadcasts pass; an extension message naming a prompt is the owner's", async () => {
    const { directory } = setup();
    const bob = await openRelay(directory.policyFor(BOB, "b"));
    for (const text of [
      message("feature_flags", { supports_preview_metadata: true, max_upload_size: 104857600 }),
      message("crystools.monitor", { cpu_utilization: 12.5, gpus: [] }),
      message("cm-queue-status", { status: "in_progress", done_count: 1 }),
      message("logs", { entries: [{ t: "x", m: "y" }], size: null }),
      '{"data":{"seq":1},"type":"compact.spelling"}',
    ]) {
      expect(bob.text(text)).toBe(text);
    }
    expect(bob.text(message("my_extension.progress", { prompt_id: P_ALICE, value: 3 }))).toBeNull();
    expect(bob.text(message("my_extension.progress", { prompt_id: P_BOB, value: 3 }))).not.toBeNull();
  });

  test("text that is not a ComfyUI message is dropped", async () => {
    const { directory } = setup();
    const relay = await openRelay(directory.policyFor(ALICE, "a"));
    expect(relay.text("not json")).toBeNull();
    expect(relay.text("[1,2]")).toBeNull();
    expect(relay.text('{"type": "executing", "data": {"node": "1", "prompt_id": ')).toBeNull();
  });

  test("the owner look-up is not repeated for messages that name no prompt", async () => {
    const { directory, ownership } = setup();
    const relay = await openRelay(directory.policyFor(ALICE, "a"));
    const before = ownership.lookups();
    for (let i = 0; i < 100; i++) relay.text(message("bench.flood", { seq: i, pad: "x".repeat(64) }));
    expect(ownership.lookups()).toBe(before);
  });
});

describe("frames that name no prompt are attributed to the executing prompt", () => {
  test("type-1 previews and type-3 text go to the executing prompt's owner only", async () => {
    const { directory } = setup();
    const alice = await openRelay(directory.policyFor(ALICE, "a"));
    const bob = await openRelay(directory.policyFor(BOB, "b"));
    // Nothing executing: nobody's.
    expect(alice.binary(previewFrame())).toBe(false);
    expect(bob.binary(textFrame("5", "hello"))).toBe(false);
    // A prompt without a client_id: ComfyUI broadcasts its progress, so both relays see it.
    const progress = message("progress", { value: 1, max: 20, prompt_id: P_ALICE, node: "3" });
    alice.text(progress);
    bob.text(progress);
    expect(alice.binary(previewFrame())).toBe(true);
    expect(bob.binary(previewFrame())).toBe(false);
    expect(alice.binary(textFrame("5", "hello"))).toBe(true);
    expect(bob.binary(textFrame("5", "hello"))).toBe(false);
  });

  test("a prompt whose messages only its owner receives still keeps broadcast text from the others (shared view)", async () => {
    const { directory } = setup();
    const alice = await openRelay(directory.policyFor(ALICE, "a"));
    const bob = await openRelay(directory.policyFor(BOB, "b"));
    alice.text(message("execution_start", { prompt_id: P_ALICE, timestamp: 1 }));
    alice.text(message("executing", { node: "5", display_node: "5", prompt_id: P_ALICE }));
    // Bob's relay saw nothing of it, but GetImageSize-style text is sent to everyone.
    expect(bob.binary(textFrame("5", "64x64"))).toBe(false);
    expect(alice.binary(textFrame("5", "64x64"))).toBe(true);
    // `executing {node: null}` ends it: nobody's again.
    alice.text(message("executing", { node: null, prompt_id: P_ALICE }));
    expect(alice.binary(textFrame("5", "late"))).toBe(false);
    expect(bob.binary(textFrame("5", "late"))).toBe(false);
  });

  test("each relay's own view guards against a shared view moved on by another relay", async () => {
    const { directory } = setup();
    const alice = await openRelay(directory.policyFor(ALICE, "a"));
    const bob = await openRelay(directory.policyFor(BOB, "b"));
    // Alice's broadcast prompt ran; Bob's relay lags behind, its own view still on Alice's prompt.
    bob.text(message("progress", { value: 1, max: 2, prompt_id: P_ALICE, node: "3" }));
    // Meanwhile Bob's own prompt starts (seen by another relay of Bob's first).
    const bobOther = await openRelay(directory.policyFor(BOB, "b2"));
    bobOther.text(message("execution_start", { prompt_id: P_BOB, timestamp: 2 }));
    // A preview of Alice's prompt still queued on Bob's lagging relay is not given to Bob.
    expect(bob.binary(previewFrame())).toBe(false);
  });

  test("a relay's stale view of its own old prompt does not take another user's frames", async () => {
    const { directory } = setup();
    const alice = await openRelay(directory.policyFor(ALICE, "a"));
    const bob = await openRelay(directory.policyFor(BOB, "b"));
    alice.text(message("progress", { value: 1, max: 1, prompt_id: P_ALICE, node: "3" })); // Alice's old broadcast prompt
    bob.text(message("execution_start", { prompt_id: P_BOB, timestamp: 2 })); // Bob's prompt, targeted at Bob
    expect(alice.binary(textFrame("7", "bob's text"))).toBe(false);
    expect(bob.binary(textFrame("7", "bob's text"))).toBe(true);
  });

  test("binary frames need both views: a relay that saw nothing of the prompt, or a prompt the shared view says has ended, gets none", async () => {
    const { directory } = setup();
    const aliceTab = await openRelay(directory.policyFor(ALICE, "tab"));
    const aliceOtherTab = await openRelay(directory.policyFor(ALICE, "other-tab"));
    const bob = await openRelay(directory.policyFor(BOB, "b"));
    aliceTab.text(message("executing", { node: "3", prompt_id: P_ALICE }));
    expect(aliceTab.binary(previewFrame())).toBe(true);
    expect(aliceOtherTab.binary(previewFrame())).toBe(false);
    // A broadcast prompt of Alice's left her relay's own view on it (no end is ever sent);
    // Bob's prompt then ran and ended. A text frame now belongs to nobody Alice can vouch for.
    aliceTab.text(message("progress", { value: 1, max: 1, prompt_id: P_ALICE_2, node: "3" }));
    bob.text(message("execution_start", { prompt_id: P_BOB, timestamp: 1 }));
    bob.text(message("executing", { node: null, prompt_id: P_BOB }));
    expect(aliceTab.binary(textFrame("7", "whose?"))).toBe(false);
  });

  test("execution_success, _error and _interrupted end the prompt", async () => {
    const { directory } = setup();
    const alice = await openRelay(directory.policyFor(ALICE, "a"));
    for (const ending of ["execution_success", "execution_error", "execution_interrupted"]) {
      alice.text(message("executing", { node: "3", prompt_id: P_ALICE }));
      expect(alice.binary(previewFrame())).toBe(true);
      alice.text(message(ending, { prompt_id: P_ALICE, timestamp: 3 }));
      expect(alice.binary(previewFrame())).toBe(false);
    }
  });

  test("`executing` without a prompt_id (sent on a reconnect) is the executing prompt's owner's", async () => {
    const { directory } = setup();
    const first = await openRelay(directory.policyFor(ALICE, "tab"));
    first.text(message("execution_start", { prompt_id: P_ALICE, timestamp: 1 }));
    first.close();
    const again = await openRelay(directory.policyFor(ALICE, "tab"));
    const bob = await openRelay(directory.policyFor(BOB, "b"));
    const reconnect = message("executing", { node: "3" });
    expect(again.text(reconnect)).toBe(reconnect);
    expect(bob.text(reconnect)).toBeNull();
  });

  test("type-4 previews carry their prompt_id: the owner's only; malformed ones nobody's", async () => {
    const { directory } = setup();
    const alice = await openRelay(directory.policyFor(ALICE, "a"));
    const bob = await openRelay(directory.policyFor(BOB, "b"));
    expect(alice.binary(metadataFrame(P_ALICE))).toBe(true);
    expect(bob.binary(metadataFrame(P_ALICE))).toBe(false);
    expect(bob.binary(metadataFrame(P_BOB))).toBe(true);
    expect(alice.binary(metadataFrame(P_UNKNOWN))).toBe(false);
    expect(alice.binary(frame(u32(4), u32(1000), PNG_BYTES))).toBe(false);
    expect(alice.binary(frame(u32(4), u32(3), new TextEncoder().encode("{x}")))).toBe(false);
  });

  test("unknown binary types and runt frames are dropped", async () => {
    const { directory } = setup();
    const alice = await openRelay(directory.policyFor(ALICE, "a"));
    alice.text(message("executing", { node: "3", prompt_id: P_ALICE }));
    expect(alice.binary(frame(u32(2), PNG_BYTES))).toBe(false);
    expect(alice.binary(frame(u32(99), PNG_BYTES))).toBe(false);
    expect(alice.binary(Uint8Array.from([0, 0, 1]))).toBe(false);
    expect(alice.binary(previewFrame())).toBe(true);
  });
});

describe("withUpstreamClientId", () => {
  test("replaces every clientId parameter and keeps the others byte for byte", () => {
    expect(withUpstreamClientId("/ws", "S")).toBe("/ws?clientId=S");
    expect(withUpstreamClientId("/ws?clientId=abc", "S")).toBe("/ws?clientId=S");
    expect(withUpstreamClientId("/api/ws?a=%2F1&clientId=abc&b=x+y&clientId=def", "S")).toBe("/api/ws?a=%2F1&b=x+y&clientId=S");
    expect(withUpstreamClientId("/ws?client%49d=abc&z", "S")).toBe("/ws?z&clientId=S");
    expect(withUpstreamClientId("/ws?clientIdx=1&%zz=2", "S")).toBe("/ws?clientIdx=1&%zz=2&clientId=S");
  });
});

describe("finding a message's prompt without parsing it", () => {
  test("one prompt named (any number of times) is that prompt; two different ones or none leave it to the parser", async () => {
    const { quickPromptId } = await import("../../src/isolation/sockets.ts");
    expect(quickPromptId('{"type": "progress", "data": {"value": 1, "max": 4, "prompt_id": "p-1", "node": "3"}}')).toBe("p-1");
    expect(quickPromptId('{"type": "progress_state", "data": {"prompt_id": "p-1", "nodes": {"3": {"prompt_id": "p-1"}}}}')).toBe("p-1");
    expect(quickPromptId('{"type": "x", "data": {"prompt_id": "p-1", "nested": {"prompt_id": "p-2"}}}')).toBeUndefined();
    expect(quickPromptId('{"type": "x", "data": {"prompt_id": null}}')).toBeUndefined();
    expect(quickPromptId('{"type": "x", "data": {"text": "say \\"prompt_id\\": \\"p-9\\""}}')).toBeUndefined();
  });
});

describe("previews of a user the NSFW guard checks", () => {
  /** A relay whose held-back frames are collected as the bridge would deliver them. */
  async function openGated(directory: ReturnType<typeof setup>["directory"], gate: PreviewGate) {
    const policy = directory.policyFor(ALICE, "tab", gate);
    if (!(await policy.claim())) throw new Error("claim refused");
    const delivered: Uint8Array[] = [];
    policy.opened(() => {}, (message) => delivered.push(message as Uint8Array));
    return { policy, delivered };
  }
  const gate = (mode: "pass" | "withhold" | "classify", isSafe: (image: Uint8Array) => Promise<boolean> = async () => true, rate = 2): PreviewGate & { seen: Uint8Array[] } => {
    const seen: Uint8Array[] = [];
    return { seen, mode: () => mode, ratePerSecond: () => rate, isSafe: (image) => (seen.push(image), isSafe(image)) };
  };
  const start = (policy: RelayPolicy) => policy.toClientText(message("executing", { node: "3", display_node: "3", prompt_id: P_ALICE }));

  test("withheld: neither kind of preview goes out, while the prompt's JSON events and text frames do", async () => {
    const { directory } = setup();
    const { policy } = await openGated(directory, gate("withhold"));
    expect(start(policy)).not.toBeNull();
    expect(policy.toClientBinary(previewFrame())).toBe(false);
    expect(policy.toClientBinary(metadataFrame(P_ALICE))).toBe(false);
    expect(policy.toClientBinary(textFrame("3", "step 1"))).toBe(true);
    expect(policy.toClientText(message("executed", { node: "9", display_node: "9", output: {}, prompt_id: P_ALICE }))).not.toBeNull();
  });

  test("passed: previews go out as for everyone", async () => {
    const { directory } = setup();
    const { policy } = await openGated(directory, gate("pass"));
    start(policy);
    expect(policy.toClientBinary(metadataFrame(P_ALICE))).toBe(true);
  });

  test("classified: only the image part goes to the classifier, a safe preview is delivered later and whole, at most at the rate, one at a time", async () => {
    const { directory, advance } = setup();
    const verdicts: Array<(safe: boolean) => void> = [];
    const g = gate("classify", () => new Promise<boolean>((resolve) => verdicts.push(resolve)), 2);
    const { policy, delivered } = await openGated(directory, g);
    start(policy);
    const first = metadataFrame(P_ALICE);
    expect(policy.toClientBinary(first)).toBe(false); // held for its verdict
    expect(g.seen).toEqual([PNG_BYTES]);
    advance(600);
    expect(policy.toClientBinary(metadataFrame(P_ALICE))).toBe(false); // one is being checked: dropped
    expect(g.seen.length).toBe(1);
    verdicts[0]!(true);
    await Bun.sleep(0);
    expect(delivered).toEqual([first]);
    expect(policy.toClientBinary(previewFrame())).toBe(false); // within the rate's interval? 600 ms > 500 ms: checked
    expect(g.seen.length).toBe(2);
    verdicts[1]!(false);
    await Bun.sleep(0);
    expect(delivered.length).toBe(1); // judged unsafe: never delivered
    expect(policy.toClientBinary(previewFrame())).toBe(false); // too soon after the last check
    expect(g.seen.length).toBe(2);
  });

  test("classified: another user's preview is never even classified, and nothing is delivered after the socket closed", async () => {
    const { directory } = setup();
    let release: (safe: boolean) => void = () => {};
    const g = gate("classify", () => new Promise<boolean>((resolve) => (release = resolve)));
    const { policy, delivered } = await openGated(directory, g);
    start(policy);
    expect(policy.toClientBinary(metadataFrame(P_BOB))).toBe(false);
    expect(g.seen).toEqual([]);
    expect(policy.toClientBinary(metadataFrame(P_ALICE))).toBe(false);
    policy.closed();
    release(true);
    await Bun.sleep(0);
    expect(delivered).toEqual([]);
  });
});
