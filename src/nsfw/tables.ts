// Tables owned by the NSFW guard: one verdict per version of a file ComfyUI serves.
// Importable by drizzle-kit under Node: drizzle-orm only.
import { index, integer, primaryKey, real, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * What the classifier (or a person) said about one version of one file. The version is
 * ComfyUI's ETag for the file (its modification time and size), or `sha256:<hex>` of the bytes
 * when ComfyUI sent none: a file re-generated under the same name is a new row, classified
 * again. Scores are stored raw, so that a threshold change applies without classifying again.
 */
export const nsfwVerdicts = sqliteTable(
  "nsfw_verdicts",
  {
    /** `output`, `temp` or `input`. */
    type: text("type").notNull(),
    /** Normalised as in file_owners. */
    subfolder: text("subfolder").notNull(),
    filename: text("filename").notNull(),
    version: text("version").notNull(),
    /** The five nsfwjs classes (0..1); null when the file could not be classified. */
    drawing: real("drawing"),
    hentai: real("hentai"),
    neutral: real("neutral"),
    porn: real("porn"),
    sexy: real("sexy"),
    /** Why there are no scores (NOT_AN_IMAGE, CORRUPT_IMAGE, TOO_MANY_PIXELS, …); null when classified. */
    failure: text("failure"),
    /** Detected format: png, jpeg, webp, gif, bmp, avif, tiff, video, or null (not an image). */
    format: text("format"),
    width: integer("width"),
    height: integer("height"),
    classifiedAt: integer("classified_at").notNull(),
    /** A person's word, which wins over the scores: `nsfw` or `safe`; null = none. */
    manualTag: text("manual_tag"),
    /** The gateway user id of who tagged it. */
    taggedBy: text("tagged_by"),
    taggedAt: integer("tagged_at"),
  },
  (t) => [
    primaryKey({ columns: [t.type, t.subfolder, t.filename, t.version] }),
    index("nsfw_verdicts_file").on(t.type, t.subfolder, t.filename, t.classifiedAt),
    index("nsfw_verdicts_time").on(t.classifiedAt),
  ],
);
