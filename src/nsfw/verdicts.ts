/**
 * The verdict store: one row per version of a file (nsfw_verdicts). Look-ups come on every
 * checked /view, so they go through a prepared statement and a bounded in-memory cache.
 */
import { and, desc, eq, gte, isNotNull, sql } from "drizzle-orm";
import type { Db } from "../db/index.ts";
import type { FileRef, FileType } from "../isolation/ownership.ts";
import type { ClassifyResult, NsfwScores } from "./classifier/types.ts";
import type { ManualTag, StoredVerdict } from "./judge.ts";
import { nsfwVerdicts } from "./tables.ts";

/** A file as ComfyUI serves it at one moment: its ETag, or `sha256:<hex>` of its bytes. */
export interface FileVersion extends FileRef {
  readonly version: string;
}

export interface VerdictRow extends StoredVerdict {
  readonly type: FileType;
  readonly subfolder: string;
  readonly filename: string;
  readonly version: string;
  readonly taggedBy: string | null;
  readonly taggedAt: number | null;
}

type Row = typeof nsfwVerdicts.$inferSelect;

function toVerdict(row: Row): VerdictRow {
  const scores: NsfwScores | null =
    row.porn === null || row.hentai === null || row.sexy === null || row.neutral === null || row.drawing === null
      ? null
      : { Drawing: row.drawing, Hentai: row.hentai, Neutral: row.neutral, Porn: row.porn, Sexy: row.sexy };
  return {
    type: row.type as FileType,
    subfolder: row.subfolder,
    filename: row.filename,
    version: row.version,
    scores,
    failure: row.failure,
    format: row.format,
    width: row.width,
    height: row.height,
    classifiedAt: row.classifiedAt,
    manualTag: row.manualTag === "nsfw" || row.manualTag === "safe" ? row.manualTag : null,
    taggedBy: row.taggedBy,
    taggedAt: row.taggedAt,
  };
}

const CACHE_SIZE = 20_000;
/** The `failure` of a row that only carries a person's tag (the classifier has not seen that version). */
export const TAG_ONLY = "NOT_CLASSIFIED";

function sameVersion(file: FileVersion) {
  return [eq(nsfwVerdicts.type, file.type), eq(nsfwVerdicts.subfolder, file.subfolder), eq(nsfwVerdicts.filename, file.filename), eq(nsfwVerdicts.version, file.version)];
}
const key = (file: FileVersion): string => `${file.type}\u0000${file.subfolder}\u0000${file.filename}\u0000${file.version}`;

/** The outcome of one classification, as stored (transient failures are never stored). */
export type StoredOutcome = Extract<ClassifyResult, { ok: true }> | { ok: false; code: string; format?: string | null };

export function createVerdictStore(db: Db) {
  const cache = new Map<string, VerdictRow | null>();
  const byVersion = db
    .select()
    .from(nsfwVerdicts)
    .where(
      and(
        eq(nsfwVerdicts.type, sql.placeholder("type")),
        eq(nsfwVerdicts.subfolder, sql.placeholder("subfolder")),
        eq(nsfwVerdicts.filename, sql.placeholder("filename")),
        eq(nsfwVerdicts.version, sql.placeholder("version")),
      ),
    )
    .prepare();

  function remember(k: string, value: VerdictRow | null): VerdictRow | null {
    if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value as string);
    cache.set(k, value);
    return value;
  }

  function get(file: FileVersion): VerdictRow | null {
    const k = key(file);
    const cached = cache.get(k);
    if (cached !== undefined) return cached;
    const row = byVersion.get({ type: file.type, subfolder: file.subfolder, filename: file.filename, version: file.version });
    // Misses are not cached: the verdict usually arrives moments later.
    return row === undefined ? null : remember(k, toVerdict(row));
  }

  return {
    get,

    /** The most recently classified version of a file, whatever its version. */
    latest(file: FileRef): VerdictRow | null {
      const row = db
        .select()
        .from(nsfwVerdicts)
        .where(and(eq(nsfwVerdicts.type, file.type), eq(nsfwVerdicts.subfolder, file.subfolder), eq(nsfwVerdicts.filename, file.filename)))
        .orderBy(desc(nsfwVerdicts.classifiedAt))
        .limit(1)
        .get();
      return row === undefined ? null : toVerdict(row);
    },

    /** Stores what the classifier said; a manual tag on the same version stays. */
    save(file: FileVersion, outcome: StoredOutcome, now: number): VerdictRow {
      const values = outcome.ok
        ? { drawing: outcome.scores.Drawing, hentai: outcome.scores.Hentai, neutral: outcome.scores.Neutral, porn: outcome.scores.Porn, sexy: outcome.scores.Sexy, failure: null, format: outcome.format, width: outcome.width, height: outcome.height }
        : { drawing: null, hentai: null, neutral: null, porn: null, sexy: null, failure: outcome.code, format: outcome.format ?? null, width: null, height: null };
      db.insert(nsfwVerdicts)
        .values({ type: file.type, subfolder: file.subfolder, filename: file.filename, version: file.version, ...values, classifiedAt: now })
        .onConflictDoUpdate({ target: [nsfwVerdicts.type, nsfwVerdicts.subfolder, nsfwVerdicts.filename, nsfwVerdicts.version], set: { ...values, classifiedAt: now } })
        .run();
      cache.delete(key(file));
      return get(file)!;
    },

    /**
     * A person's word on one version (null clears it). A version never classified gets a row
     * that only carries the tag, and loses it with the tag. Null when no row remains.
     */
    tag(file: FileVersion, tag: ManualTag | null, userId: string, now: number): VerdictRow | null {
      if (tag === null) {
        db.delete(nsfwVerdicts).where(and(...sameVersion(file), eq(nsfwVerdicts.failure, TAG_ONLY))).run();
      }
      const set = { manualTag: tag, taggedBy: tag === null ? null : userId, taggedAt: tag === null ? null : now };
      db.insert(nsfwVerdicts)
        .values({ type: file.type, subfolder: file.subfolder, filename: file.filename, version: file.version, classifiedAt: now, failure: TAG_ONLY, ...set })
        .onConflictDoUpdate({ target: [nsfwVerdicts.type, nsfwVerdicts.subfolder, nsfwVerdicts.filename, nsfwVerdicts.version], set })
        .run();
      cache.delete(key(file));
      return get(file);
    },

    /** Removes every manual tag; the number removed. */
    clearTags(): number {
      // Rows that only carried a tag go with it; classified rows keep their scores.
      const removed = db.delete(nsfwVerdicts).where(and(isNotNull(nsfwVerdicts.manualTag), eq(nsfwVerdicts.failure, TAG_ONLY))).returning({ type: nsfwVerdicts.type }).all();
      const cleared = db.update(nsfwVerdicts).set({ manualTag: null, taggedBy: null, taggedAt: null }).where(isNotNull(nsfwVerdicts.manualTag)).returning({ type: nsfwVerdicts.type }).all();
      cache.clear();
      return removed.length + cleared.length;
    },

    /** Forgets the classifier's verdicts on one file (every version), so the next look classifies again; manual tags stay. */
    forgetFile(file: FileRef): void {
      db.delete(nsfwVerdicts)
        .where(and(eq(nsfwVerdicts.type, file.type), eq(nsfwVerdicts.subfolder, file.subfolder), eq(nsfwVerdicts.filename, file.filename), sql`${nsfwVerdicts.manualTag} is null`))
        .run();
      cache.clear();
    },

    /** The latest version's verdict of each file classified at or after `since`, newest first, in pages (the admin list). */
    page(options: { since?: number; limit: number; offset: number; tagged?: boolean }): VerdictRow[] {
      // Older versions of a re-generated file are gone from ComfyUI: only each file's newest row counts.
      const newest = sql`${nsfwVerdicts.classifiedAt} = (select max(v.classified_at) from nsfw_verdicts v where v.type = ${nsfwVerdicts.type} and v.subfolder = ${nsfwVerdicts.subfolder} and v.filename = ${nsfwVerdicts.filename})`;
      const conditions = [gte(nsfwVerdicts.classifiedAt, options.since ?? 0), newest];
      if (options.tagged === true) conditions.push(isNotNull(nsfwVerdicts.manualTag));
      return db
        .select()
        .from(nsfwVerdicts)
        .where(and(...conditions))
        .orderBy(desc(nsfwVerdicts.classifiedAt))
        .limit(options.limit)
        .offset(options.offset)
        .all()
        .map(toVerdict);
    },

    count(): number {
      return db.select({ n: sql<number>`count(*)` }).from(nsfwVerdicts).get()?.n ?? 0;
    },
  };
}

export type VerdictStore = ReturnType<typeof createVerdictStore>;
