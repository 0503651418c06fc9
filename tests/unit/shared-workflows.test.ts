/**
 * The pure parts of shared workflows: which names an admin may share, which userdata paths
 * are the shared folder, and how ComfyUI's listings (every shape of `GET /userdata`, and
 * `/v2/userdata`) get the shared entries; plus the store and the read-only refusals.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applyMigrations, openDatabase, type OpenDatabase } from "../../src/db/index.ts";
import {
  checkWorkflowPath,
  createSharedWorkflowStore,
  createSharedWorkflowViews,
  detectTimeUnit,
  isSharedWorkflowPath,
  mergeUserdataListing,
  mergeV2Listing,
  normaliseUserdataDir,
  parseListingQuery,
  sharedNameOf,
  sharedPrefixWithin,
  type SharedWorkflowSummary,
} from "../../src/isolation/shared-workflows.ts";

const PROMOTED_AT = 1_760_000_000_500;
const portrait: SharedWorkflowSummary = { name: "portrait.json", sizeBytes: 42, promotedBy: "admin-id", promotedAt: PROMOTED_AT };
const zebra: SharedWorkflowSummary = { name: "zebra.json", sizeBytes: 7, promotedBy: "admin-id", promotedAt: PROMOTED_AT + 1000 };
const SHARED = [portrait, zebra];

describe("workflow names", () => {
  test("relative .json paths are accepted, with their file name", () => {
    expect(checkWorkflowPath("a.json")).toEqual({ ok: true, path: "a.json", name: "a.json" });
    expect(checkWorkflowPath("faces/Portrait One.JSON")).toEqual({ ok: true, path: "faces/Portrait One.JSON", name: "Portrait One.JSON" });
  });

  test.each([
    [undefined, "Name the workflow"],
    ["", "Name the workflow"],
    [42, "Name the workflow"],
    ["../x.json", "'..'"],
    ["a/../../x.json", "'..'"],
    ["/etc/x.json", "relative"],
    ["C:/x.json", "relative"],
    ["a\\b.json", "not \\"],
    ["a\u0000.json", "control"],
    ["a\n.json", "control"],
    ["a%2F..%2Fb.json", "%"],
    ["a//b.json", "empty"],
    ["./a.json", "'.'"],
    ["a.txt", ".json"],
    [".json", ".json"],
    ["sub/", "empty"],
    ["x".repeat(300) + ".json", "longer"],
  ])("%p is refused (%s)", (value, reason) => {
    const checked = checkWorkflowPath(value);
    expect(checked.ok).toBe(false);
    if (!checked.ok) expect(checked.message).toContain(reason);
  });

  test("a shared workflow's name has no folders", () => {
    expect(checkWorkflowPath("a.json", { fileNameOnly: true }).ok).toBe(true);
    expect(checkWorkflowPath("sub/a.json", { fileNameOnly: true }).ok).toBe(false);
  });
});

describe("userdata paths", () => {
  test("the shared folder, in any letter case, and only it", () => {
    for (const path of ["workflows/shared", "workflows/shared/a.json", "Workflows/SHARED/a.json", "workflows/shared/sub/b.json"]) expect(isSharedWorkflowPath(path)).toBe(true);
    for (const path of ["workflows", "workflows/a.json", "workflows/sharedx/a.json", "workflows/shared.json", "shared/a.json", "subgraphs/shared/a.json", undefined]) {
      expect(isSharedWorkflowPath(path)).toBe(false);
    }
    expect(sharedNameOf("workflows/shared/a.json")).toBe("a.json");
    expect(sharedNameOf("WORKFLOWS/Shared/A.json")).toBe("A.json");
    expect(sharedNameOf("workflows/shared/")).toBeNull();
    expect(sharedNameOf("workflows/a.json")).toBeNull();
  });

  test("listed directories are resolved like ComfyUI resolves them", () => {
    expect(normaliseUserdataDir("workflows/")).toBe("workflows");
    expect(normaliseUserdataDir("./workflows//shared/")).toBe("workflows/shared");
    expect(normaliseUserdataDir("subgraphs/../workflows")).toBe("workflows");
    expect(normaliseUserdataDir("..")).toBeNull();
    expect(sharedPrefixWithin("workflows")).toBe("shared/");
    expect(sharedPrefixWithin("Workflows/")).toBe("shared/");
    expect(sharedPrefixWithin("workflows/shared")).toBe("");
    expect(sharedPrefixWithin(".")).toBe("workflows/shared/");
    expect(sharedPrefixWithin("")).toBe("workflows/shared/");
    expect(sharedPrefixWithin("subgraphs/")).toBeNull();
    expect(sharedPrefixWithin("workflows/sub")).toBeNull();
    expect(sharedPrefixWithin("workflows/shared/sub")).toBeNull();
    expect(sharedPrefixWithin("../x")).toBeNull();
  });

  test("the listing query is read like ComfyUI reads it", () => {
    expect(parseListingQuery("?dir=workflows&recurse=true&split=false&full_info=true")).toEqual({ dir: "workflows", recurse: true, fullInfo: true, split: false });
    expect(parseListingQuery("?dir=subgraphs%2F&recurse=TRUE&split=1")).toEqual({ dir: "subgraphs/", recurse: true, fullInfo: false, split: false });
  });
});

describe("GET /userdata merges", () => {
  const query = (search: string) => parseListingQuery(search);

  test("the front end's query (full_info, recursive): shared entries after the user's, in seconds like 0.3.64", () => {
    const own = [{ path: "a.json", size: 10, modified: 1_760_000_001.25, created: 1_760_000_001.25 }];
    const merged = mergeUserdataListing(own, query("?dir=workflows&recurse=true&split=false&full_info=true"), SHARED, detectTimeUnit(own) ?? "seconds");
    expect(merged).toEqual([
      own[0],
      { path: "shared/portrait.json", size: 42, modified: PROMOTED_AT / 1000, created: PROMOTED_AT / 1000 },
      { path: "shared/zebra.json", size: 7, modified: (PROMOTED_AT + 1000) / 1000, created: (PROMOTED_AT + 1000) / 1000 },
    ]);
  });

  test("full_info in milliseconds when ComfyUI answers in milliseconds (newer versions)", () => {
    const own = [{ path: "a.json", size: 10, modified: 1_760_000_001_250, created: 1_760_000_001_250 }];
    expect(detectTimeUnit(own)).toBe("milliseconds");
    expect(detectTimeUnit([{ path: "a.json", modified: 1_760_000_001 }])).toBe("seconds");
    expect(detectTimeUnit([])).toBeNull();
    const merged = mergeUserdataListing(own, query("?dir=workflows&recurse=true&full_info=true"), [portrait], "milliseconds");
    expect(merged?.[1]).toEqual({ path: "shared/portrait.json", size: 42, modified: PROMOTED_AT, created: PROMOTED_AT });
  });

  test("plain and split shapes", () => {
    expect(mergeUserdataListing(["a.json", "sub/b.json"], query("?dir=workflows&recurse=true"), SHARED, "seconds")).toEqual(["a.json", "sub/b.json", "shared/portrait.json", "shared/zebra.json"]);
    expect(mergeUserdataListing([["a.json", "a.json"]], query("?dir=workflows&recurse=true&split=true"), [portrait], "seconds")).toEqual([
      ["a.json", "a.json"],
      ["shared/portrait.json", "shared", "portrait.json"],
    ]);
    // full_info wins over split, as in ComfyUI.
    expect(mergeUserdataListing([], query("?dir=workflows&recurse=true&split=true&full_info=true"), [portrait], "seconds")).toEqual([
      { path: "shared/portrait.json", size: 42, modified: PROMOTED_AT / 1000, created: PROMOTED_AT / 1000 },
    ]);
  });

  test("the shared folder itself, recursive or not; the user root only when recursing", () => {
    expect(mergeUserdataListing([], query("?dir=workflows/shared"), SHARED, "seconds")).toEqual(["portrait.json", "zebra.json"]);
    expect(mergeUserdataListing([], query("?dir=workflows%2Fshared%2F&recurse=true"), [portrait], "seconds")).toEqual(["portrait.json"]);
    expect(mergeUserdataListing(["comfy.settings.json"], query("?dir=.&recurse=true"), [portrait], "seconds")).toEqual(["comfy.settings.json", "workflows/shared/portrait.json"]);
  });

  test("nothing changes without recursion, in other folders, or with nothing shared", () => {
    expect(mergeUserdataListing(["a.json"], query("?dir=workflows"), SHARED, "seconds")).toBeNull();
    expect(mergeUserdataListing(["a.json"], query("?dir=subgraphs%2F&recurse=true"), SHARED, "seconds")).toBeNull();
    expect(mergeUserdataListing(["a.json"], query("?dir=workflows/sub&recurse=true"), SHARED, "seconds")).toBeNull();
    expect(mergeUserdataListing(["a.json"], query("?dir=workflows&recurse=true"), [], "seconds")).toBeNull();
  });

  test("a user's own file where a shared one is listed gives way to it (any letter case)", () => {
    const merged = mergeUserdataListing(["a.json", "shared/PORTRAIT.json", "shared/mine.json"], query("?dir=workflows&recurse=true"), [portrait], "seconds");
    expect(merged).toEqual(["a.json", "shared/mine.json", "shared/portrait.json"]);
    const inside = mergeUserdataListing([{ path: "portrait.json", size: 1, modified: 1, created: 1 }], query("?dir=workflows/shared&full_info=true"), [portrait], "seconds");
    expect(inside).toEqual([{ path: "portrait.json", size: 42, modified: PROMOTED_AT / 1000, created: PROMOTED_AT / 1000 }]);
  });
});

describe("GET /v2/userdata merges", () => {
  const file = (path: string, size = 1, modified = 1_760_000_000.5) => ({ name: path.split("/").pop()!, path, type: "file", size, modified });
  const directory = (path: string) => ({ name: path.split("/").pop()!, path, type: "directory" });

  test("path=workflows: the shared folder among the directories, its files among the files, each by name", () => {
    const own = [directory("workflows/sub"), file("workflows/a.json"), file("workflows/sub/b.json")];
    expect(mergeV2Listing(own, "workflows", SHARED)).toEqual([
      directory("workflows/shared"),
      directory("workflows/sub"),
      file("workflows/a.json"),
      file("workflows/sub/b.json"),
      file("workflows/shared/portrait.json", 42, PROMOTED_AT / 1000),
      file("workflows/shared/zebra.json", 7, (PROMOTED_AT + 1000) / 1000),
    ]);
  });

  test("the user root gets both folders; an existing folder is not repeated", () => {
    // Ordered by name, like the fake: "shared" before "workflows".
    expect(mergeV2Listing([], "", [portrait])).toEqual([directory("workflows/shared"), directory("workflows"), file("workflows/shared/portrait.json", 42, PROMOTED_AT / 1000)]);
    const own = [directory("workflows"), directory("workflows/shared"), file("workflows/shared/portrait.json", 3), file("workflows/shared/mine.json")];
    expect(mergeV2Listing(own, "", [portrait])).toEqual([
      directory("workflows/shared"),
      directory("workflows"),
      file("workflows/shared/mine.json"),
      file("workflows/shared/portrait.json", 42, PROMOTED_AT / 1000),
    ]);
    expect(mergeV2Listing(own.slice(2), "workflows/shared", [portrait])).toEqual([file("workflows/shared/mine.json"), file("workflows/shared/portrait.json", 42, PROMOTED_AT / 1000)]);
  });

  test("other paths and an empty shared list change nothing", () => {
    expect(mergeV2Listing([file("subgraphs/x.json")], "subgraphs", SHARED)).toBeNull();
    expect(mergeV2Listing([file("workflows/a.json")], "workflows", [])).toBeNull();
    expect(mergeV2Listing([], "workflows/shared/sub", SHARED)).toBeNull();
  });
});

describe("the store and the interceptors", () => {
  const opened: { dir: string; database: OpenDatabase }[] = [];
  afterEach(() => {
    for (const { dir, database } of opened.splice(0)) {
      database.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
  function setup() {
    const dir = mkdtempSync(join(tmpdir(), "mss-shared-workflows-"));
    const database = openDatabase(dir);
    applyMigrations(database.sqlite);
    opened.push({ dir, database });
    const store = createSharedWorkflowStore(database.db);
    return { store, views: createSharedWorkflowViews(store) };
  }
  const request = (method: string) => new Request("http://gateway/api/userdata/x", { method });

  test("put, replace, get, list and remove", () => {
    const { store } = setup();
    expect(store.put({ name: "b.json", content: '{"n":"é"}', promotedBy: "u1", now: 1000 })).toEqual({ replaced: false });
    expect(store.put({ name: "a.json", content: "{}", promotedBy: "u1", now: 2000 })).toEqual({ replaced: false });
    expect(store.put({ name: "b.json", content: '{"n":"é2"}', promotedBy: "u2", now: 3000 })).toEqual({ replaced: true });
    expect(store.list()).toEqual([
      { name: "a.json", sizeBytes: 2, promotedBy: "u1", promotedAt: 2000 },
      { name: "b.json", sizeBytes: 11, promotedBy: "u2", promotedAt: 3000 },
    ]);
    expect(store.get("b.json")?.content).toBe('{"n":"é2"}');
    expect(store.remove("b.json")).toBe(true);
    expect(store.remove("b.json")).toBe(false);
    expect(store.get("b.json")).toBeNull();
  });

  test("writes into, out of or onto the shared folder are refused; a shared file is served without ComfyUI", async () => {
    const { store, views } = setup();
    store.put({ name: "a.json", content: '{"nodes":[]}', promotedBy: "u1", now: 5000 });
    const around = (routeId: string, method: string, params: Record<string, string>, search = "") => views.forRequest({ request: request(method), routeId, method, params, search });
    const refusedBody = async (result: ReturnType<typeof around>) => {
      if (result === null || !("intercept" in result)) throw new Error("expected an interceptor");
      const response = await result.intercept(() => Promise.reject(new Error("must not reach ComfyUI")));
      return { status: response.status, body: (await response.json()) as { code: string } };
    };
    for (const [routeId, method, params] of [
      ["userdata.file", "POST", { file: "workflows/shared/a.json" }],
      ["userdata.file", "DELETE", { file: "Workflows/Shared/a.json" }],
      ["userdata.file", "POST", { file: "workflows/shared" }],
      ["userdata.move", "POST", { file: "workflows/a.json", dest: "workflows/shared/a.json" }],
      ["userdata.move", "POST", { file: "workflows/shared/a.json", dest: "workflows/mine.json" }],
    ] as const) {
      expect(await refusedBody(around(routeId, method, params))).toMatchObject({ status: 403, body: { code: "WORKFLOW_SHARED_READ_ONLY" } });
    }
    expect(around("userdata.file", "POST", { file: "workflows/a.json" })).toBeNull();
    expect(around("userdata.move", "POST", { file: "workflows/a.json", dest: "workflows/b.json" })).toBeNull();
    expect(around("userdata.list", "GET", {}, "?dir=subgraphs%2F&recurse=true")).toBeNull();

    const read = around("userdata.file", "GET", { file: "workflows/shared/a.json" });
    if (read === null || !("intercept" in read)) throw new Error("expected an interceptor");
    const served = await read.intercept(() => Promise.reject(new Error("must not reach ComfyUI")));
    expect(served.status).toBe(200);
    expect(served.headers.get("content-type")).toBe("application/json");
    expect(await served.text()).toBe('{"nodes":[]}');
    // A name nobody shared is the caller's own file: ComfyUI answers.
    const own = around("userdata.file", "GET", { file: "workflows/shared/other.json" });
    if (own === null || !("intercept" in own)) throw new Error("expected an interceptor");
    expect((await own.intercept(async () => new Response("mine", { status: 200 }))).status).toBe(200);
  });

  test("a missing workflows folder lists the shared ones; other answers pass through", async () => {
    const { store, views } = setup();
    store.put({ name: "a.json", content: "{}", promotedBy: "u1", now: 5000 });
    const list = views.forRequest({ request: request("GET"), routeId: "userdata.list", method: "GET", params: {}, search: "?dir=workflows&recurse=true&split=false&full_info=true" });
    if (list === null || !("filterResponse" in list)) throw new Error("expected a filter");
    expect(list.headers).toEqual({ "accept-encoding": "identity" });
    const missing = await list.filterResponse(new Response("Directory not found", { status: 404 }));
    expect(missing.status).toBe(200);
    expect(await missing.json()).toEqual([{ path: "shared/a.json", size: 2, modified: 5, created: 5 }]);
    const unknownUser = await list.filterResponse(new Response("500 Internal Server Error", { status: 500 }));
    expect(unknownUser.status).toBe(500);

    const v2 = views.forRequest({ request: request("GET"), routeId: "userdata.v2", method: "GET", params: {}, search: "?path=workflows" });
    if (v2 === null || !("filterResponse" in v2)) throw new Error("expected a filter");
    const listed = await v2.filterResponse(new Response("Requested path not found", { status: 404 }));
    expect(await listed.json()).toEqual([
      { name: "shared", path: "workflows/shared", type: "directory" },
      { name: "a.json", path: "workflows/shared/a.json", type: "file", size: 2, modified: 5 },
    ]);
    expect((await v2.filterResponse(new Response("Invalid user specified in request", { status: 403 }))).status).toBe(403);
  });
});
