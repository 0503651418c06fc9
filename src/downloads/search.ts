// The original's look-ups before a download (reference §4.6, §10.2): CivitAI's model search,
// one model, one model version, and Hugging Face's model search, proxied through the same
// contained outbound requests as the downloads (allowed hosts, checked addresses, the key only
// to its own host). Answers are passed on as the source gives them (Hugging Face's reduced to
// public fields); the source's 400/401/403/404/429 are passed through, anything else is 502.
import type { Config } from "../config/index.ts";
import { readJson, sourceOrigins } from "./queue.ts";
import { asDownloadError, fetchOutbound, type Resolver } from "./safe-fetch.ts";
import { CIVITAI_HOSTS, type CivitaiHost } from "./sources.ts";

/** Search answers (100 models with their versions) are larger than a version's metadata. */
const MAX_SEARCH_BYTES = 16 * 1024 * 1024;
/** Look-ups per user and minute: each one is a request to the source on the user's behalf. */
const LOOKUPS_PER_MINUTE = 60;
const PASSED_THROUGH = new Set([400, 401, 403, 404, 429]);
const ID = /^[1-9]\d{0,11}$/;
/** Query parameters CivitAI's /api/v1/models takes that are passed on (values checked below). */
const CIVITAI_FILTERS = ["types", "sort", "period", "baseModels", "nsfw", "primaryFileOnly", "username", "tag", "cursor"] as const;
const FILTER_VALUE = /^[\w .:+-]{1,100}$/;

export type LookupAnswer = { status: number; body: unknown };

export interface SourceSearchOptions {
  settings: () => Config["downloads"];
  /** The user's key for a source (null: none). */
  apiKey: (userId: string, source: "civitai" | "huggingface") => Promise<string | null>;
  resolve?: Resolver;
  now?: () => number;
}

const answer = (status: number, error: string, code: string): LookupAnswer => ({ status, body: { error, code } });

export function createSourceSearch(options: SourceSearchOptions) {
  const now = options.now ?? Date.now;
  const recent = new Map<string, number[]>();

  /** Whether the user may make another look-up now (a sliding minute). */
  function withinRate(userId: string): boolean {
    const at = now();
    const times = (recent.get(userId) ?? []).filter((time) => time > at - 60_000);
    if (times.length >= LOOKUPS_PER_MINUTE) return false;
    times.push(at);
    recent.set(userId, times);
    if (recent.size > 10_000) recent.clear();
    return true;
  }

  /** GET base+path as JSON, the key sent to the API host only. */
  async function getJson(userId: string, source: "civitai" | "huggingface", base: string, path: string, what: string): Promise<LookupAnswer> {
    if (!withinRate(userId)) return answer(429, `At most ${LOOKUPS_PER_MINUTE} look-ups a minute; try again shortly.`, "TOO_MANY_LOOKUPS");
    const settings = options.settings();
    const key = await options.apiKey(userId, source);
    const apiHost = new URL(base).host;
    try {
      const { response } = await fetchOutbound({
        url: new URL(`${base}${path}`),
        policy: sourceOrigins(settings).policy,
        headersFor: (hop): Record<string, string> => ({ accept: "application/json", ...(key !== null && hop.host === apiHost ? { authorization: `Bearer ${key}` } : {}) }),
        idleTimeoutMs: Math.min(settings.read_timeout_ms, 30_000),
        signal: AbortSignal.timeout(60_000),
        resolve: options.resolve,
      });
      const status = response.statusCode ?? 0;
      if (status !== 200) {
        response.destroy();
        return PASSED_THROUGH.has(status) ? answer(status, `${what} answered ${status}.`, `SOURCE_${status}`) : answer(502, `${what} answered ${status}.`, "SOURCE_UNAVAILABLE");
      }
      return { status: 200, body: await readJson(response, what, MAX_SEARCH_BYTES) };
    } catch (error) {
      const failure = asDownloadError(error);
      return answer(502, failure.message, failure.code);
    }
  }

  function hostOf(raw: string | null, preference: CivitaiHost): CivitaiHost | LookupAnswer {
    if (raw === null || raw === "") return preference;
    const host = raw.toLowerCase();
    return (CIVITAI_HOSTS as readonly string[]).includes(host) ? (host as CivitaiHost) : answer(400, `civitai_host is one of ${CIVITAI_HOSTS.join(", ")}.`, "BAD_CIVITAI_HOST");
  }

  function limitOf(raw: string | null, fallback: number): number | LookupAnswer {
    if (raw === null || raw === "") return fallback;
    const limit = Number(raw);
    return Number.isInteger(limit) && limit >= 1 && limit <= 100 ? limit : answer(400, "limit is a whole number from 1 to 100.", "BAD_LIMIT");
  }

  return {
    /** `GET …/civitai/search`: text search pages by cursor (CivitAI refuses `query` with `page`); browsing by page. */
    async civitaiSearch(userId: string, params: URLSearchParams, preference: CivitaiHost): Promise<LookupAnswer> {
      const host = hostOf(params.get("civitai_host"), preference);
      if (typeof host !== "string") return host;
      const limit = limitOf(params.get("limit"), 20);
      if (typeof limit !== "number") return limit;
      const query = (params.get("query") ?? params.get("q") ?? "").trim();
      if (query.length > 200) return answer(400, "query is at most 200 characters.", "BAD_QUERY");
      const upstream = new URLSearchParams({ limit: String(limit) });
      if (query !== "") upstream.set("query", query);
      const page = params.get("page");
      if (page !== null && page !== "") {
        if (!ID.test(page) || Number(page) > 10_000) return answer(400, "page is a whole number from 1.", "BAD_PAGE");
        if (query === "") upstream.set("page", page); // with a query, CivitAI pages by cursor only
      }
      for (const name of CIVITAI_FILTERS) {
        const value = params.get(name);
        if (value === null || value === "") continue;
        if (!FILTER_VALUE.test(value)) return answer(400, `${name} is not valid.`, "BAD_FILTER");
        upstream.set(name, value);
      }
      const result = await getJson(userId, "civitai", sourceOrigins(options.settings()).civitai(host), `/api/v1/models?${upstream}`, "CivitAI");
      return result.status === 200 ? { status: 200, body: { host, query, result: result.body } } : result;
    },

    /** `GET …/civitai/models/{id}` and `…/civitai/model-versions/{id}`. */
    async civitaiItem(userId: string, kind: "models" | "model-versions", id: string, params: URLSearchParams, preference: CivitaiHost): Promise<LookupAnswer> {
      if (!ID.test(id)) return answer(400, "The id is a positive whole number.", "BAD_ID");
      const host = hostOf(params.get("civitai_host"), preference);
      if (typeof host !== "string") return host;
      const result = await getJson(userId, "civitai", sourceOrigins(options.settings()).civitai(host), `/api/v1/${kind}/${id}`, "CivitAI");
      if (result.status !== 200) return result;
      return { status: 200, body: kind === "models" ? { host, model: result.body } : { host, model_version: result.body } };
    },

    /** `GET …/huggingface/search`: public fields only. */
    async huggingfaceSearch(userId: string, params: URLSearchParams): Promise<LookupAnswer> {
      const limit = limitOf(params.get("limit"), 20);
      if (typeof limit !== "number") return limit;
      const query = (params.get("query") ?? params.get("q") ?? "").trim();
      if (query === "" || query.length > 200) return answer(400, "query is 1 to 200 characters.", "BAD_QUERY");
      const result = await getJson(userId, "huggingface", sourceOrigins(options.settings()).huggingface, `/api/models?${new URLSearchParams({ search: query, limit: String(limit) })}`, "Hugging Face");
      if (result.status !== 200) return result;
      if (!Array.isArray(result.body)) return answer(502, "Hugging Face did not answer with a list.", "SOURCE_BAD_ANSWER");
      const items = result.body
        .filter((item): item is Record<string, unknown> => typeof item === "object" && item !== null && typeof (item as { id?: unknown }).id === "string")
        .map((item) => {
          const tags = Array.isArray(item.tags) ? item.tags.filter((tag): tag is string => typeof tag === "string") : [];
          return {
            id: item.id,
            repo_id: item.id,
            downloads: typeof item.downloads === "number" ? item.downloads : null,
            likes: typeof item.likes === "number" ? item.likes : null,
            tags,
            pipeline_tag: typeof item.pipeline_tag === "string" ? item.pipeline_tag : null,
            private: item.private === true,
            has_safetensors: tags.includes("safetensors"),
          };
        });
      return { status: 200, body: { query, items } };
    },
  };
}

export type SourceSearch = ReturnType<typeof createSourceSearch>;
