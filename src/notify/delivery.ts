/**
 * Background delivery to ntfy: a bounded in-memory queue worked off one message at a time, in
 * order. Nothing here is ever awaited by a request: `enqueue` returns at once.
 *
 * - Each attempt has a timeout (15 s by default) and never follows a redirect (the access token
 *   goes to the configured server and nowhere else). Of the server's answer at most 4 KiB are
 *   read; the rest is not.
 * - A failed attempt is retried after 1 s, 4 s, 16 s and 64 s (five attempts in all) when it may
 *   succeed later: no answer, 5xx, 429 (whose Retry-After is honoured, up to 5 minutes). Other
 *   4xx answers (bad token, topic refused) and redirects are final. A message waiting for its
 *   retry keeps its place, and those behind it wait too.
 * - A message is made ready (`prepare`) before each attempt, so a retry checks again what it may
 *   carry (a picture: the switch and the NSFW guard's verdict). A message marked `slow` (it reads
 *   a picture) is prepared apart, one at a time, while the messages behind it go on.
 * - The queue holds 100 messages; when full, the one of lowest priority goes (the oldest of
 *   them; possibly the newcomer), never the one being sent or prepared, and is counted as
 *   dropped: a flood of image notifications does not push out security alerts.
 * - The destination (server, topic, token) is read at each attempt, so a corrected token applies
 *   to messages already waiting; with notifications switched off, waiting messages are dropped.
 * - `stop()` gives what is waiting (such as "gateway stopping") one last attempt within a short
 *   deadline, then drops the rest.
 *
 * The access token is never logged and is scrubbed from any error text kept for the admin app.
 */
import type { Logger } from "../log.ts";
import { buildRequest, cleanText, type Destination, type Publication } from "./message.ts";

export const DEFAULT_RETRY_DELAYS_MS: readonly number[] = [1_000, 4_000, 16_000, 64_000];
export const DEFAULT_ATTEMPT_TIMEOUT_MS = 15_000;
export const DEFAULT_MAX_QUEUED = 100;
const MAX_RETRY_AFTER_MS = 5 * 60_000;
/** Of an answer's body, at most this much is read (ntfy's answers are small JSON). */
export const MAX_ANSWER_BYTES = 4 * 1024;
const DEFAULT_PRIORITY = 3;

/** What one attempt to publish came to. */
export type AttemptResult =
  | { ok: true; status: number; body: string }
  | { ok: false; status: number | null; retry: boolean; retryAfterMs: number | null; error: string };

/** One message waiting: made into a publication before each attempt (pictures are read then, not while queued). */
export interface QueuedMessage {
  /** Event key (or "test"), for the log and the status. */
  readonly event: string;
  /** ntfy's priority, 1 (min) to 5 (urgent), 3 when left out: a full queue drops the lowest first. */
  readonly priority?: number;
  /** Preparing it may take long (it reads a picture): it is prepared apart, and others go meanwhile. */
  readonly slow?: boolean;
  /** The publication for attempt `attempt` (1, 2, ...): a retry checks again what it may carry. */
  prepare(attempt: number): Promise<Publication>;
}

export interface DeliveryOptions {
  /** The destination now; null when notifications are off (waiting messages are dropped). */
  destination: () => Promise<Destination | null>;
  log: Logger;
  fetch?: typeof fetch;
  now?: () => number;
  retryDelaysMs?: readonly number[];
  attemptTimeoutMs?: number;
  maxQueued?: number;
}

export interface DeliveryState {
  queued: number;
  sent: number;
  failed: number;
  dropped: number;
  last_success_at: string | null;
  last_failure_at: string | null;
  last_error: string | null;
}

/** ntfy's error text from a JSON answer (`{"error": "..."}`), or the start of the body. */
function answerText(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: unknown };
    if (typeof parsed.error === "string") return parsed.error;
  } catch {
    // not JSON
  }
  return body;
}

function describeStatus(status: number, body: string): string {
  const said = cleanText(answerText(body), 200);
  const words: Record<number, string> = {
    401: "the access token was refused (401 Unauthorized)",
    403: "the access token may not publish to this topic (403 Forbidden)",
    404: "the server has no such topic or path (404)",
    413: "the message or picture is too large for the server (413)",
    429: "the server limits how often it may be sent to (429 Too Many Requests)",
    507: "the server has no room for the attachment (507)",
  };
  const base = words[status] ?? `the ntfy server answered ${status}`;
  return said === "" ? base : `${base}: ${said}`;
}

/**
 * The start of an answer's body as text: at most `limit` bytes are read, within `timeoutMs`;
 * then the rest is cancelled (a server that answers without end neither fills the memory nor
 * holds the attempt).
 */
export async function readAnswer(response: Response, limit: number, timeoutMs: number): Promise<string> {
  const body = response.body;
  if (body === null) return "";
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), timeoutMs);
    (timer as { unref?: () => void }).unref?.();
  });
  let complete = false;
  try {
    while (length < limit) {
      const read = await Promise.race([reader.read(), late]);
      if (read === "late") break;
      if (read.done) {
        complete = true;
        break;
      }
      chunks.push(read.value);
      length += read.value.byteLength;
    }
  } catch {
    // The transfer broke off: what came is enough.
  } finally {
    clearTimeout(timer);
    if (!complete) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
  const bytes = new Uint8Array(Math.min(length, limit));
  let offset = 0;
  for (const chunk of chunks) {
    if (offset >= bytes.length) break;
    const part = chunk.subarray(0, bytes.length - offset);
    bytes.set(part, offset);
    offset += part.byteLength;
  }
  return new TextDecoder().decode(bytes);
}

/** Publishes one message now: the answer, never thrown. */
export async function publishOnce(destination: Destination, publication: Publication, options: { fetch?: typeof fetch; timeoutMs: number }): Promise<AttemptResult> {
  const { url, init } = buildRequest(destination, publication);
  const scrub = (text: string): string => (destination.token !== null && destination.token !== "" ? text.split(destination.token).join("[token]") : text);
  let response: Response;
  try {
    response = await (options.fetch ?? fetch)(url, { ...init, signal: AbortSignal.timeout(options.timeoutMs) });
  } catch (error) {
    const timedOut = error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError");
    const reason = timedOut ? `no answer within ${Math.round(options.timeoutMs / 1000)} s` : `could not reach the server: ${error instanceof Error ? error.message : String(error)}`;
    return { ok: false, status: null, retry: true, retryAfterMs: null, error: scrub(cleanText(reason, 300)) };
  }
  const body = await readAnswer(response, MAX_ANSWER_BYTES, options.timeoutMs);
  const status = response.status;
  if (status >= 200 && status < 300) return { ok: true, status, body: scrub(body.slice(0, 2000)) };
  if (status >= 300 && status < 400) {
    return { ok: false, status, retry: false, retryAfterMs: null, error: `the server answered with a redirect (${status}) to ${scrub(cleanText(response.headers.get("location") ?? "elsewhere", 200))}, which is not followed; set the address it redirects to` };
  }
  const retryAfter = Number(response.headers.get("retry-after"));
  return {
    ok: false,
    status,
    retry: status >= 500 || status === 429 || status === 408,
    retryAfterMs: Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter * 1000, MAX_RETRY_AFTER_MS) : null,
    error: scrub(describeStatus(status, body)),
  };
}

interface Entry {
  message: QueuedMessage;
  priority: number;
  /** Ready for the next attempt (prepared apart, for a slow message). */
  publication: Publication | null;
  /** Why it could not be prepared (final). */
  prepareError: string | null;
  preparing: boolean;
  attempts: number;
  notBefore: number;
}

export function createDelivery(options: DeliveryOptions) {
  const now = options.now ?? Date.now;
  const delays = options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
  const timeoutMs = options.attemptTimeoutMs ?? DEFAULT_ATTEMPT_TIMEOUT_MS;
  const maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED;
  const queue: Entry[] = [];
  const state = { sent: 0, failed: 0, dropped: 0, lastSuccessAt: null as number | null, lastFailureAt: null as number | null, lastError: null as string | null };
  let running: Promise<void> | null = null;
  /** Set while the worker waits (for a retry, or for a slow message's preparation): wakes it early. */
  let wake: (() => void) | null = null;
  let stopping = false;
  let stopDeadline = Infinity;
  /** The message being sent, and the slow one being prepared apart: neither is dropped when the queue is full. */
  let sending: Entry | null = null;
  let preparing: Entry | null = null;

  function failed(entry: Entry, error: string): void {
    state.failed++;
    state.lastFailureAt = now();
    state.lastError = error;
    options.log.warn("notify: not delivered", { event: entry.message.event, attempts: entry.attempts, error });
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        wake = null;
        resolve();
      }, Math.max(0, Math.min(ms, 2 ** 31 - 1)));
      (timer as { unref?: () => void }).unref?.();
      wake = () => {
        clearTimeout(timer);
        wake = null;
        resolve();
      };
    });
  }

  function remove(entry: Entry): boolean {
    const index = queue.indexOf(entry);
    if (index === -1) return false;
    queue.splice(index, 1);
    return true;
  }

  /** Prepares a slow message apart; the worker is woken when it is ready. */
  function prepareApart(entry: Entry): void {
    preparing = entry;
    entry.preparing = true;
    entry.message
      .prepare(entry.attempts + 1)
      .then(
        (publication) => {
          entry.publication = publication;
        },
        (error: unknown) => {
          entry.prepareError = `the message could not be prepared: ${error instanceof Error ? error.message : String(error)}`;
        },
      )
      .finally(() => {
        entry.preparing = false;
        if (preparing === entry) preparing = null;
        wake?.();
      });
  }

  async function work(): Promise<void> {
    while (queue.length > 0) {
      if (stopping && now() >= stopDeadline) {
        state.dropped += queue.length;
        queue.length = 0;
        break;
      }
      // Switched off meanwhile: what waits is dropped (before a picture is read for it).
      if ((await options.destination()) === null) {
        state.dropped += queue.length;
        queue.length = 0;
        break;
      }
      // The first message that may go now, in order: one waiting for its retry holds back those
      // behind it; one whose picture is being read does not.
      const at = now();
      let next: Entry | null = null;
      let waitUntil = Infinity;
      for (const entry of queue) {
        if (entry.preparing) continue;
        if (!stopping && entry.notBefore > at) {
          waitUntil = entry.notBefore;
          break;
        }
        if (entry.message.slow === true && entry.publication === null && entry.prepareError === null) {
          if (preparing === null) prepareApart(entry);
          continue;
        }
        next = entry;
        break;
      }
      if (next === null) {
        await sleep(stopping ? stopDeadline - now() : waitUntil === Infinity ? 60_000 : waitUntil - now());
        continue;
      }
      const entry = next;
      let result: AttemptResult;
      sending = entry;
      try {
        if (entry.prepareError !== null) throw new Error(entry.prepareError);
        const publication = entry.publication ?? (await entry.message.prepare(entry.attempts + 1));
        // Used for this attempt: a retry prepares it again.
        entry.publication = null;
        const destination = await options.destination();
        if (destination === null) continue;
        entry.attempts++;
        const limit = stopping ? Math.max(100, Math.min(timeoutMs, stopDeadline - now())) : timeoutMs;
        result = await publishOnce(destination, publication, { ...(options.fetch === undefined ? {} : { fetch: options.fetch }), timeoutMs: limit });
      } catch (error) {
        const text = error instanceof Error ? error.message : String(error);
        result = { ok: false, status: null, retry: false, retryAfterMs: null, error: entry.prepareError ?? `the message could not be prepared: ${text}` };
      } finally {
        sending = null;
      }
      if (!queue.includes(entry)) continue; // dropped while sending (switched off)
      if (result.ok) {
        remove(entry);
        state.sent++;
        state.lastSuccessAt = now();
        continue;
      }
      if (result.retry && entry.attempts <= delays.length && !stopping) {
        const backoff = delays[entry.attempts - 1]!;
        entry.notBefore = now() + Math.max(backoff, result.retryAfterMs ?? 0);
        options.log.debug("notify: will retry", { event: entry.message.event, attempts: entry.attempts, in_ms: entry.notBefore - now(), error: result.error });
        continue;
      }
      remove(entry);
      failed(entry, result.error);
    }
  }

  function kick(): void {
    if (running !== null) return;
    running = work()
      .catch((error: unknown) => options.log.error("notify: delivery stopped unexpectedly", { error: error instanceof Error ? error.message : String(error) }))
      .finally(() => {
        running = null;
        if (queue.length > 0 && !stopping) kick();
      });
  }

  return {
    /** Queues a message; returns at once. */
    enqueue(message: QueuedMessage): void {
      if (stopping && now() >= stopDeadline) return;
      const entry: Entry = { message, priority: message.priority ?? DEFAULT_PRIORITY, publication: null, prepareError: null, preparing: false, attempts: 0, notBefore: 0 };
      if (queue.length >= maxQueued) {
        // The lowest priority goes, the oldest of it; the newcomer too is a candidate. The first
        // in line and the messages being sent or prepared stay.
        const candidates = [...queue.filter((waiting, index) => index !== 0 && waiting !== sending && waiting !== preparing), entry];
        const lowest = Math.min(...candidates.map((candidate) => candidate.priority));
        const victim = candidates.find((candidate) => candidate.priority === lowest)!;
        state.dropped++;
        options.log.debug("notify: queue full, message dropped", { event: victim.message.event });
        if (victim === entry) return;
        remove(victim);
      }
      queue.push(entry);
      // A worker waiting for a slow preparation sends this meanwhile.
      wake?.();
      kick();
    },

    state(): DeliveryState {
      const iso = (at: number | null) => (at === null ? null : new Date(at).toISOString());
      return { queued: queue.length, sent: state.sent, failed: state.failed, dropped: state.dropped, last_success_at: iso(state.lastSuccessAt), last_failure_at: iso(state.lastFailureAt), last_error: state.lastError };
    },

    /** Records the outcome of a send made outside the queue (the test button). */
    noteOutcome(result: AttemptResult): void {
      if (result.ok) state.lastSuccessAt = now();
      else {
        state.lastFailureAt = now();
        state.lastError = result.error;
      }
    },

    /** Gives waiting messages one last attempt within `flushMs`, then drops the rest. */
    async stop(flushMs = 3_000): Promise<void> {
      stopping = true;
      stopDeadline = now() + flushMs;
      wake?.();
      if (running === null && queue.length > 0) kick();
      const current = running;
      if (current !== null) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([current, new Promise<void>((resolve) => (timer = setTimeout(resolve, flushMs + 500)))]);
        clearTimeout(timer);
      }
      state.dropped += queue.length;
      queue.length = 0;
    },
  };
}

export type Delivery = ReturnType<typeof createDelivery>;
