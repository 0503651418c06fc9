/**
 * ntfy notifications, assembled: the stored settings, the background delivery, the grouping of
 * new images, and the mapping from audit events. The composition root (src/app.ts) feeds it:
 * every audit event (`audit`), each new output file (`fileReported`), start and stop; other
 * modules call `emit` with an event key and its facts (e.g. `emit("download_completed", {...})`).
 * Nothing here is awaited by a request: events are queued and sent in the background.
 *
 * Flood control: an event kind sends at most `ratePerMinute` (10) notifications a minute; the
 * rest are counted, and the next notification that goes out (of any kind) lists what was held
 * back, by event and count. New images have their own grouping (./images.ts); start and stop are
 * never held back.
 */
import type { AuditEvent } from "../audit/log.ts";
import type { Db } from "../db/index.ts";
import type { FileRef } from "../isolation/ownership.ts";
import type { Logger } from "../log.ts";
import { createAccountDirectory, fromAuditEvent } from "./audit-map.ts";
import { createDelivery, publishOnce, type AttemptResult } from "./delivery.ts";
import { eventDefinition, priorityNumber, type EventFacts, type NotifyEventKey } from "./events.ts";
import { createImageGrouper, fetchPicture, judgePicture, type FetchedPicture, type ImageGroup, type ImageSources } from "./images.ts";
import { describe, type Destination, type Publication } from "./message.ts";
import { createSettingsStore, type StoredSettings } from "./store.ts";
import type { NotifySettingsValues, TokenChange } from "./validate.ts";

export type { NotifyEventKey, EventFacts } from "./events.ts";

export interface NotifierOptions {
  db: Db;
  /** The key the access token is sealed with: deriveKey(secret, "ntfy-token-encryption"). */
  key: Uint8Array;
  log: Logger;
  /** Where pictures of new images come from; without it, image notifications are text only. */
  images?: ImageSources;
  fetch?: typeof fetch;
  now?: () => number;
  retryDelaysMs?: readonly number[];
  attemptTimeoutMs?: number;
  maxQueued?: number;
  settleMs?: number;
  minIntervalMs?: number;
  ratePerMinute?: number;
  /** Timeout of the admin's test send (it waits for the answer). */
  testTimeoutMs?: number;
}

/** Kinds that are never held back by the per-minute limit. */
const UNLIMITED = new Set<NotifyEventKey>(["server_started", "server_stopped", "image_generated"]);
const DEFAULT_RATE_PER_MINUTE = 10;

export function createNotifier(options: NotifierOptions) {
  const { log } = options;
  const now = options.now ?? Date.now;
  const store = createSettingsStore(options.db, options.key, now);
  const accounts = createAccountDirectory(options.db);
  const ratePerMinute = options.ratePerMinute ?? DEFAULT_RATE_PER_MINUTE;
  async function destinationOf(settings: StoredSettings): Promise<Destination | null> {
    if (!settings.enabled || settings.topic === "") return null;
    return { serverUrl: settings.serverUrl, topic: settings.topic, token: await store.token(settings) };
  }

  const delivery = createDelivery({
    destination: () => destinationOf(store.current()),
    log,
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    now,
    ...(options.retryDelaysMs === undefined ? {} : { retryDelaysMs: options.retryDelaysMs }),
    ...(options.attemptTimeoutMs === undefined ? {} : { attemptTimeoutMs: options.attemptTimeoutMs }),
    ...(options.maxQueued === undefined ? {} : { maxQueued: options.maxQueued }),
  });

  /** Per event kind: the current minute's start and count. */
  const windows = new Map<NotifyEventKey, { start: number; count: number }>();
  /** Per event kind, how many were held back since the last notification went out. */
  const heldBack = new Map<NotifyEventKey, number>();
  let suppressedTotal = 0;

  /** Whether this one may go now. */
  function admit(key: NotifyEventKey): boolean {
    if (UNLIMITED.has(key)) return true;
    const at = now();
    let window = windows.get(key);
    if (window === undefined || at - window.start >= 60_000) {
      window = { start: at, count: 0 };
      windows.set(key, window);
    }
    if (window.count >= ratePerMinute) {
      heldBack.set(key, (heldBack.get(key) ?? 0) + 1);
      suppressedTotal++;
      return false;
    }
    window.count++;
    return true;
  }

  /** What was held back since the last notification, by event (label and count), as a line; then forgotten. */
  function heldBackNote(): string {
    if (heldBack.size === 0) return "";
    const listed = [...heldBack].map(([key, count]) => `${eventDefinition(key).label} ×${count}`).join(", ");
    heldBack.clear();
    return `\nNot sent in the last minutes, to keep the flood down: ${listed}.`;
  }

  function wanted(key: NotifyEventKey): StoredSettings | null {
    const settings = store.current();
    return settings.enabled && settings.topic !== "" && settings.events[key].enabled ? settings : null;
  }

  function queue<K extends NotifyEventKey>(key: K, facts: EventFacts[K], settings: StoredSettings, attach: FileRef | null): void {
    if (!admit(key)) return;
    const event = settings.events[key];
    const text = describe(key, facts);
    const note = heldBackNote();
    const images = attach === null ? undefined : options.images;
    /** The picture read for the first attempt; a retry judges it again (nothing is read twice). */
    let picture: FetchedPicture | { ok: false; reason: string } | null = null;
    delivery.enqueue({
      event: key,
      priority: priorityNumber(event.priority),
      slow: images !== undefined,
      prepare: async (): Promise<Publication> => {
        const publication: Publication = { title: text.title, message: `${text.message}${note}`, priority: event.priority, tags: event.tags };
        // Asked again at each attempt: switched off meanwhile, a retry goes as text.
        if (attach === null || images === undefined || !store.reload().attachImages) return publication;
        picture ??= await fetchPicture(attach, images);
        const attachment = picture.ok ? await judgePicture(picture, images) : { attached: false as const, reason: picture.reason };
        if (attachment.attached) return { ...publication, attachment: { bytes: attachment.bytes, filename: attachment.filename } };
        return { ...publication, message: `${publication.message}\nPicture not attached: ${attachment.reason}.` };
      },
    });
  }

  /** Sends one event (when switched on); returns at once. Text the facts carry is cleaned when the message is built. */
  function emit<K extends NotifyEventKey>(key: K, facts: EventFacts[K]): void {
    try {
      const settings = wanted(key);
      if (settings !== null) queue(key, facts, settings, null);
    } catch (error) {
      log.warn("notify: event not queued", { event: key, error: error instanceof Error ? error.message : String(error) });
    }
  }

  const grouper = createImageGrouper({
    ...(options.settleMs === undefined ? {} : { settleMs: options.settleMs }),
    ...(options.minIntervalMs === undefined ? {} : { minIntervalMs: options.minIntervalMs }),
    now,
    flush: (group: ImageGroup) => {
      const settings = wanted("image_generated");
      if (settings !== null) queue("image_generated", { username: group.username, count: group.count, filenames: group.filenames }, settings, group.latest);
    },
  });

  return {
    emit,

    /** An audit event was recorded: the notifications it stands for. */
    audit(event: AuditEvent): void {
      try {
        for (const emitted of fromAuditEvent(event, accounts)) emit(emitted.key, emitted.facts as never);
      } catch (error) {
        log.warn("notify: audit event not mapped", { action: event.action, error: error instanceof Error ? error.message : String(error) });
      }
    },

    /** A file became known (src/isolation/ownership.ts `onNewFile`): outputs are new images. */
    fileReported(file: FileRef): void {
      if (file.type !== "output" || wanted("image_generated") === null) return;
      try {
        grouper.add(options.images?.ownerOf(file) ?? "someone", file);
      } catch (error) {
        log.warn("notify: image not announced", { error: error instanceof Error ? error.message : String(error) });
      }
    },

    /** The settings in force (the token only as set or not); `fresh`: read from the database now. */
    settings(options: { fresh?: boolean } = {}): StoredSettings {
      return options.fresh === true ? store.reload() : store.current();
    },

    /** Stores new settings; they apply at once. */
    async update(values: NotifySettingsValues, token: TokenChange, userId: string | null): Promise<StoredSettings & { tokenCleared: boolean }> {
      return store.save(values, token, userId);
    },

    /** Sends a test message now with the stored server, topic and token, and waits for the answer (the admin's button). */
    async sendTest(sentBy: string): Promise<AttemptResult> {
      const settings = store.reload();
      const destination: Destination = { serverUrl: settings.serverUrl, topic: settings.topic, token: await store.token(settings) };
      const result = await publishOnce(
        destination,
        { title: "MSS-Login test", message: `A test notification from the MSS-Login gateway, sent by ${sentBy}. If you read this, notifications reach you.`, priority: "default", tags: ["white_check_mark"] },
        { ...(options.fetch === undefined ? {} : { fetch: options.fetch }), timeoutMs: options.testTimeoutMs ?? 10_000 },
      );
      delivery.noteOutcome(result);
      if (!result.ok) log.warn("notify: test not delivered", { error: result.error });
      return result;
    },

    /** Delivery in numbers, for the admin app. */
    status() {
      return { ...delivery.state(), suppressed: suppressedTotal, images_waiting: grouper.pending() };
    },

    /** Gives what is waiting (such as "gateway stopping") a last attempt, within `flushMs`. */
    async stop(flushMs = 3_000): Promise<void> {
      grouper.stop();
      await delivery.stop(flushMs);
    },
  };
}

export type Notifier = ReturnType<typeof createNotifier>;

/** Label and defaults of an event, for the admin app. */
export { eventDefinition };
