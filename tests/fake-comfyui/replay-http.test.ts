/**
 * Replays every recorded HTTP exchange of the real ComfyUI 0.3.64 (recordings/http, 299 files)
 * against the fake, in file order, on a fresh fake per mode, and compares status, significant
 * headers and the body (see replay/compare.ts for the generic rules: ids are mapped, clocks are
 * compared by type).
 *
 * Two lists below are the only departures from an exact comparison:
 * - CIRCUMSTANCES recreates what the real server was doing at the time (a busy worker), with the
 *   fake's pause/manual controls, so that queue order and interrupt points are deterministic;
 * - LOOSE_BODIES names the few bodies that cannot be equal and says why.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startFakeComfyUI, type FakeComfyUI } from "./server.ts";
import { compareExchange, sendRecordedRequest, type BodyCheck } from "./replay/http-replay.ts";
import { IdMapper } from "./replay/id-mapper.ts";
import { loadHttpRecordings, type HttpRecording } from "./replay/recordings.ts";

const PNG_MAGIC = "89504e470d0a1a0a";
const GENERATED_IMAGE =
  "the fake writes its own solid-colour PNG (with the prompt embedded); the real one's pixels and compression differ";

/** Bodies compared less than exactly, and why. */
const LOOSE_BODIES: Record<string, BodyCheck> = {
  "su-014-get-object-info-all-keys": {
    kind: "custom",
    reason: "the real registry has 490 node classes; the fake serves the recorded handful plus FakeSampler",
    check: (expected, actual) => {
      const recordedKeys = new Set((expected as { _object_info_keys: string[] })._object_info_keys);
      const fakeKeys = Object.keys(actual as object);
      const unknown = fakeKeys.filter((key) => !recordedKeys.has(key) && key !== "FakeSampler");
      const required = ["EmptyImage", "SaveImage", "PreviewImage", "LoadImage", "ImageBlur", "SaveImageWebsocket", "GetImageSize"];
      const missing = required.filter((key) => !fakeKeys.includes(key));
      return [...unknown.map((k) => `unexpected class ${k}`), ...missing.map((k) => `missing class ${k}`)];
    },
  },
  "su-013-get-extensions": {
    kind: "custom",
    reason: "spec §10.4 adds a custom-node extension (/extensions/demo_node/demo.js) to the recorded core shim",
    check: (expected, actual) => {
      const list = actual as string[];
      return (expected as string[]).filter((url) => !list.includes(url)).map((url) => `missing ${url}`);
    },
  },
  "su-107-view-output": { kind: "magic", magicHex: PNG_MAGIC, reason: GENERATED_IMAGE },
  "su-108-view-output-default-type": { kind: "magic", magicHex: PNG_MAGIC, reason: GENERATED_IMAGE },
  "su-109-view-output-subfolder": { kind: "magic", magicHex: PNG_MAGIC, reason: GENERATED_IMAGE },
  "su-110-view-temp": { kind: "magic", magicHex: PNG_MAGIC, reason: GENERATED_IMAGE },
  "su-131-view-plain-path": { kind: "magic", magicHex: PNG_MAGIC, reason: GENERATED_IMAGE },
  "su-116-view-preview-webp": { kind: "magic", magicHex: "52494646", reason: "WebP re-encoding of a different source image (RIFF header checked)" },
  "su-117-view-preview-jpeg": { kind: "magic", magicHex: "ffd8ff", reason: "JPEG re-encoding of a different source image (SOI marker checked)" },
  "su-118-view-channel-rgb": { kind: "magic", magicHex: PNG_MAGIC, reason: "the fake does not split channels; it re-encodes as PNG" },
  "su-119-view-channel-a": { kind: "magic", magicHex: PNG_MAGIC, reason: "the fake does not split channels; it re-encodes as PNG" },
  "su-178-internal-logs": {
    kind: "custom",
    reason: "the log holds the real server's own start-up output; only its form is comparable",
    check: (_expected, actual) => (typeof actual === "string" && /^\d{4}-\d\d-\d\dT[\d:.]+ - /.test(actual) ? [] : ["not a log text"]),
  },
  "su-179-internal-logs-raw": {
    kind: "custom",
    reason: "the log holds the real server's own start-up output; entry shape and size are compared",
    check: (expected, actual) => {
      const body = actual as { entries: { t: unknown; m: unknown }[]; size: unknown };
      const problems: string[] = [];
      if (!Array.isArray(body.entries) || body.entries.length === 0) problems.push("no entries");
      for (const entry of body.entries ?? []) {
        if (typeof entry.t !== "string" || typeof entry.m !== "string" || Object.keys(entry).join() !== "t,m") problems.push(`bad entry ${JSON.stringify(entry)}`);
      }
      if (JSON.stringify(body.size) !== JSON.stringify((expected as { size: unknown }).size)) problems.push(`size ${JSON.stringify(body.size)}`);
      return problems;
    },
  },
};

/** The fake's controls, for recreating the recording's circumstances. */
interface Hooks {
  before?: (fake: FakeComfyUI) => Promise<void> | void;
  after?: (fake: FakeComfyUI) => Promise<void> | void;
}

/**
 * What the real worker was doing, recreated. The recorded server was sometimes busy while the
 * recorder sent requests; the fake is faster, so without these the same requests would find an
 * idle queue.
 */
const CIRCUMSTANCES: Record<string, Hooks> = {
  // 12345 (number 10) was still pending when the front/number prompts arrived and jumped it.
  "su-035-post-prompt-valid-numeric-prompt-id": {
    before: async (fake) => {
      await fake.waitForIdle();
      fake.pause();
    },
  },
  "su-038-post-prompt-valid-number-and-front": { after: (fake) => fake.resume() },
  // The slow job (EmptyImage 1024x1024x4 → ImageBlur r31) was running during su-054 … su-070,
  // and the interrupt arrived while EmptyImage ran: hold it between node 1 and node 2.
  "su-053-post-prompt-slow-1": {
    before: async (fake) => {
      await fake.waitForIdle();
      fake.setExecutionMode("manual");
    },
    after: async (fake) => {
      await fake.step();
    },
  },
  "su-070-post-interrupt-running-id": { after: (fake) => fake.setExecutionMode("auto") },
  "su-073-post-prompt-slow-2": {
    before: async (fake) => {
      await fake.waitForIdle();
      fake.setExecutionMode("manual");
    },
    after: async (fake) => {
      await fake.step();
    },
  },
  "su-074-post-interrupt-no-body": { after: (fake) => fake.setExecutionMode("auto") },
  // The recorder found alice's prompt running and the other two pending (mu-080).
  "mu-077-post-prompt-as-alice": {
    before: async (fake) => {
      await fake.waitForIdle();
      fake.setExecutionMode("manual");
    },
  },
  "mu-081-get-history-as-bob": { before: (fake) => fake.setExecutionMode("auto") },
  // Four of the five origin-test prompts were still queued when the socket connected (su-202).
  "su-191-origin-matching-post-prompt": {
    before: async (fake) => {
      await fake.waitForIdle();
      fake.setExecutionMode("manual");
    },
  },
  "su-200-origin-sec-fetch-site": {
    after: async (fake) => {
      await fake.step(); // the first one finished, the second is running
      await fake.step();
    },
  },
  "su-202-ws-upgrade-matching-origin": { after: (fake) => fake.setExecutionMode("auto") },
};

/** Reads of results that the recorder made once the work had finished. */
function readsFinishedWork(recording: HttpRecording): boolean {
  return recording.request.method === "GET" && /^\/(api\/)?(history|view|internal\/files)/.test(recording.request.path);
}

async function replay(fake: FakeComfyUI, recording: HttpRecording, ids: IdMapper): Promise<string[]> {
  const hooks = CIRCUMSTANCES[recording.id] ?? {};
  await hooks.before?.(fake);
  try {
    if (readsFinishedWork(recording)) await fake.waitForIdle();
    const observed = await sendRecordedRequest(fake.url, fake.port, recording, ids);
    return compareExchange(recording, observed, ids, LOOSE_BODIES[recording.id] ?? { kind: "exact" });
  } finally {
    await hooks.after?.(fake);
  }
}

function report(recording: HttpRecording, problems: string[]): void {
  if (problems.length > 0) {
    console.error(`${recording.id} (${recording.request.method} ${recording.request.target}):\n  ${problems.join("\n  ")}`);
  }
  expect(problems).toEqual([]);
}

const singleUser = loadHttpRecordings("su-");
const multiUser = loadHttpRecordings("mu-");
const restartedOverSingleUserData = multiUser.filter((r) => r.id.startsWith("mu-9"));
const freshMultiUser = multiUser.filter((r) => !r.id.startsWith("mu-9"));
const singleUserIds = new IdMapper();
let singleUserLeftovers: { users: Record<string, string>; files: Record<string, Record<string, Uint8Array>> } | null = null;

test("every recording is replayed (none skipped)", () => {
  expect(singleUser.length + multiUser.length).toBe(299);
  for (const id of [...Object.keys(LOOSE_BODIES), ...Object.keys(CIRCUMSTANCES)]) {
    expect([...singleUser, ...multiUser].some((r) => r.id === id)).toBe(true);
  }
});

describe("single-user recordings (su-*)", () => {
  let fake: FakeComfyUI;
  beforeAll(async () => {
    fake = await startFakeComfyUI({ multiUser: false });
  });
  afterAll(async () => {
    // What the restart of finding 13 starts from: users.json and the default user's files.
    singleUserLeftovers = { users: fake.state.users.list(), files: fake.state.userdata.snapshot() };
    await fake.stop();
  });
  for (const recording of singleUser) {
    test(recording.id, async () => report(recording, await replay(fake, recording, singleUserIds)));
  }
});

describe("multi-user restart over the single-user data (mu-901 … mu-904, finding 13)", () => {
  let fake: FakeComfyUI;
  beforeAll(async () => {
    if (singleUserLeftovers === null) throw new Error("the single-user replay must run first");
    fake = await startFakeComfyUI({ multiUser: true, users: singleUserLeftovers.users, userFiles: singleUserLeftovers.files });
  });
  afterAll(async () => {
    await fake.stop();
  });
  for (const recording of restartedOverSingleUserData) {
    test(recording.id, async () => report(recording, await replay(fake, recording, singleUserIds)));
  }
});

describe("multi-user recordings (mu-001 … mu-090)", () => {
  let fake: FakeComfyUI;
  const ids = new IdMapper();
  beforeAll(async () => {
    fake = await startFakeComfyUI({ multiUser: true });
  });
  afterAll(async () => {
    await fake.stop();
  });
  for (const recording of freshMultiUser) {
    test(recording.id, async () => report(recording, await replay(fake, recording, ids)));
  }
});
