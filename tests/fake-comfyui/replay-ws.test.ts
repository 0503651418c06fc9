/**
 * Replays the 21 recorded WebSocket transcripts (recordings/ws) against the fake and compares,
 * per socket, the sequence of frames: message types plus the fields that give a sequence its
 * meaning (queue length in `status`, node ids, progress values, node states in
 * `progress_state`, binary event types). Frames that reach different sockets "at the same
 * time" may interleave differently, so sockets are compared one by one, never across.
 *
 * The single-user transcripts run in file order on one fake, keeping open sockets from one
 * transcript to the next, as the recorder did; the multi-user one runs on its own fake.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startFakeComfyUI, type FakeComfyUI } from "./server.ts";
import { IdMapper } from "./replay/id-mapper.ts";
import { loadWsRecordings, type WsRecording } from "./replay/recordings.ts";
import { playTranscript, type TranscriptSocket } from "./replay/ws-replay.ts";

/**
 * Sequences compared after a normalisation, and why.
 */
const LOOSE_SEQUENCES: Record<string, { reason: string; normalise: (signatures: string[]) => string[] }> = {
  "ws-05c-interrupted-during-progress.json": {
    reason:
      "the interrupt lands during some progress tick of SaveImageWebsocket; how many ticks (progress_state, BIN4, progress) " +
      "run before it depends on HTTP latency, so runs of ticks after the first one count as one",
    normalise: (signatures) => {
      const out: string[] = [];
      for (let i = 0; i < signatures.length; i++) {
        const isTickStart = /^progress_state\(.*9:running:[1-9]\d*\/24\)$/.test(signatures[i] ?? "");
        if (isTickStart && signatures[i + 1] === "BIN4" && /^progress\(\d+\/24\)$/.test(signatures[i + 2] ?? "")) {
          if (out[out.length - 1] !== "<ticks>") out.push("<ticks>");
          i += 2;
          continue;
        }
        // The tick that saw the interrupt may have started (its progress_state) or not.
        if (isTickStart && signatures[i + 1] === "execution_interrupted(9)") continue;
        out.push(signatures[i] as string);
      }
      return out;
    },
  },
};

const recordings = loadWsRecordings();

function compare(recording: WsRecording, result: Awaited<ReturnType<typeof playTranscript>>): void {
  const loose = LOOSE_SEQUENCES[recording.file];
  const problems = [...result.problems];
  for (const [label, { recorded, observed }] of result.sockets) {
    const want = loose === undefined ? recorded : loose.normalise(recorded);
    const got = loose === undefined ? observed : loose.normalise(observed);
    if (JSON.stringify(want) !== JSON.stringify(got)) {
      problems.push(`socket ${label}:\n    observed ${got.join(", ")}\n    recorded ${want.join(", ")}`);
    }
  }
  if (problems.length > 0) console.error(`${recording.file}:\n  ${problems.join("\n  ")}`);
  expect(problems).toEqual([]);
}

test("every transcript is replayed (none skipped)", () => {
  expect(recordings.length).toBe(21);
  for (const file of Object.keys(LOOSE_SEQUENCES)) expect(recordings.some((r) => r.file === file)).toBe(true);
});

describe("single-user transcripts", () => {
  let fake: FakeComfyUI;
  const sockets = new Map<string, TranscriptSocket>();
  const ids = new IdMapper();
  beforeAll(async () => {
    fake = await startFakeComfyUI({ multiUser: false });
  });
  afterAll(async () => {
    for (const socket of sockets.values()) socket.close();
    await fake.stop();
  });
  for (const recording of recordings.filter((r) => r.mode === "single-user")) {
    test(recording.file, async () => compare(recording, await playTranscript(fake, recording, sockets, ids)), 30_000);
  }
});

describe("multi-user transcripts", () => {
  let fake: FakeComfyUI;
  const sockets = new Map<string, TranscriptSocket>();
  const ids = new IdMapper();
  beforeAll(async () => {
    fake = await startFakeComfyUI({ multiUser: true });
  });
  afterAll(async () => {
    for (const socket of sockets.values()) socket.close();
    await fake.stop();
  });
  for (const recording of recordings.filter((r) => r.mode === "multi-user")) {
    test(recording.file, async () => compare(recording, await playTranscript(fake, recording, sockets, ids)), 30_000);
  }
});
