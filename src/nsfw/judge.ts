/**
 * From a stored verdict to "blocked or not" for a checked viewer. The scores are kept raw and
 * judged at read time, so a threshold change applies at once to every file already classified.
 */
import type { NsfwScores } from "./classifier/types.ts";

export interface Thresholds {
  /** Fractions 0..1: a score above blocks. */
  readonly porn: number;
  readonly hentai: number;
  /** null: the Sexy class never blocks. */
  readonly sexy: number | null;
}

export type ManualTag = "nsfw" | "safe";

/** What the gateway knows about one version of a file (a row of nsfw_verdicts). */
export interface StoredVerdict {
  readonly scores: NsfwScores | null;
  /** Why there are no scores (a ClassifyFailure, or UNSUPPORTED_FORMAT for visual media the classifier cannot read). */
  readonly failure: string | null;
  readonly format: string | null;
  readonly width: number | null;
  readonly height: number | null;
  readonly classifiedAt: number;
  readonly manualTag: ManualTag | null;
}

export type Judgement =
  | { readonly blocked: false; readonly reason: "manual" | "scores" | "not_visual" }
  | { readonly blocked: true; readonly reason: "manual" | "scores" | "unclassifiable"; readonly detail: string };

/** Files that are not pictures at all (text, audio, latents): nothing for the classifier to see. */
export const NOT_VISUAL = "NOT_AN_IMAGE";

export function judge(verdict: StoredVerdict, thresholds: Thresholds): Judgement {
  if (verdict.manualTag === "nsfw") return { blocked: true, reason: "manual", detail: "tagged NSFW by a person" };
  if (verdict.manualTag === "safe") return { blocked: false, reason: "manual" };
  const scores = verdict.scores;
  if (scores === null) {
    // A tag-only row with neither scores nor failure cannot happen without a manual tag; treat as unreadable.
    if (verdict.failure === NOT_VISUAL) return { blocked: false, reason: "not_visual" };
    return { blocked: true, reason: "unclassifiable", detail: verdict.failure ?? "NOT_CLASSIFIED" };
  }
  const explicit = scores.Porn + scores.Hentai;
  if (scores.Porn > thresholds.porn) return { blocked: true, reason: "scores", detail: `Porn ${percent(scores.Porn)}` };
  if (scores.Hentai > thresholds.hentai) return { blocked: true, reason: "scores", detail: `Hentai ${percent(scores.Hentai)}` };
  // Content split between the two explicit classes is as explicit as either alone.
  if (explicit > Math.min(thresholds.porn, thresholds.hentai)) return { blocked: true, reason: "scores", detail: `Porn + Hentai ${percent(explicit)}` };
  if (thresholds.sexy !== null && scores.Sexy > thresholds.sexy) return { blocked: true, reason: "scores", detail: `Sexy ${percent(scores.Sexy)}` };
  return { blocked: false, reason: "scores" };
}

function percent(fraction: number): string {
  return `${Math.round(fraction * 1000) / 10}%`;
}

/** The original's severity for notifications: ceil(score × 10), at least 1. */
export function severity(scores: NsfwScores): number {
  return Math.max(1, Math.min(10, Math.ceil((scores.Porn + scores.Hentai) * 10)));
}
