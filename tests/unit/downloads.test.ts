// Download request parsing and the SSRF containment of outbound requests (checklist 5.9), with
// DNS played by the tests: no request here leaves loopback.
import { describe, expect, test } from "bun:test";
import { parseIp } from "../../src/config/ip.ts";
import { checkedLookup, checkOutboundUrl, DownloadError, fetchOutbound, isGlobalAddress, type OutboundPolicy, type Resolver } from "../../src/downloads/safe-fetch.ts";
import { parseDownloadRequest, targetFromUrl } from "../../src/downloads/sources.ts";

const policy: OutboundPolicy = { allowedHosts: ["civitai.com", "huggingface.co", "*.hf.co"], testOrigins: new Set() };

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(DownloadError);
    return (error as DownloadError).code;
  }
  throw new Error("expected a refusal");
}

describe("outbound URLs", () => {
  test.each([
    ["http://civitai.com/x", "URL_SCHEME"],
    ["file:///etc/passwd", "URL_SCHEME"],
    ["ftp://civitai.com/x", "URL_SCHEME"],
    ["https://u:p@civitai.com/x", "URL_CREDENTIALS"],
    ["https://civitai.com@127.0.0.1/x", "URL_CREDENTIALS"],
    ["https://127.0.0.1/x", "URL_IP_LITERAL"],
    ["https://2130706433/x", "URL_IP_LITERAL"],
    ["https://0x7f000001/x", "URL_IP_LITERAL"],
    ["https://017700000001/x", "URL_IP_LITERAL"],
    ["https://127.1/x", "URL_IP_LITERAL"],
    ["https://[::1]/x", "URL_IP_LITERAL"],
    ["https://[::ffff:169.254.169.254]/x", "URL_IP_LITERAL"],
    ["https://civitai.com./x", "URL_HOST_NOT_ALLOWED"],
    ["https://civitai.com:444/x", "URL_PORT"],
    ["https://evilcivitai.com/x", "URL_HOST_NOT_ALLOWED"],
    ["https://civitai.com.evil.example/x", "URL_HOST_NOT_ALLOWED"],
    ["https://hf.co/x", "URL_HOST_NOT_ALLOWED"], // only *.hf.co is listed here
  ])("%s is refused (%s)", (url, code) => {
    expect(refusal(() => checkOutboundUrl(url, policy))).toBe(code);
  });

  test("allowed hosts and wildcard subdomains pass, and a test origin only exactly", () => {
    expect(checkOutboundUrl("https://civitai.com/api/download/models/1", policy).host).toBe("civitai.com");
    expect(checkOutboundUrl("https://CDN-LFS.hf.co/x", policy).host).toBe("cdn-lfs.hf.co");
    const withFake = { ...policy, testOrigins: new Set(["http://127.0.0.1:4001"]) };
    expect(checkOutboundUrl("http://127.0.0.1:4001/x", withFake).port).toBe("4001");
    expect(refusal(() => checkOutboundUrl("http://127.0.0.1:4002/x", withFake))).toBe("URL_SCHEME");
    expect(refusal(() => checkOutboundUrl("http://u:p@127.0.0.1:4001/x", withFake))).toBe("URL_SCHEME");
  });
});

describe("addresses", () => {
  test.each([
    "127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "255.255.255.255", "224.0.0.1", "198.18.0.1", "192.0.2.5",
    "::1", "::", "fe80::1", "fc00::1", "fd00::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.5", "64:ff9b::a9fe:a9fe", "2001:db8::1", "2002:7f00:1::", "2001:0:4136:e378::1",
  ])("%s is not global", (address) => {
    expect(isGlobalAddress(parseIp(address)!)).toBe(false);
  });

  test.each(["8.8.8.8", "104.18.2.3", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "::ffff:8.8.8.8"])("%s is global", (address) => {
    expect(isGlobalAddress(parseIp(address)!)).toBe(true);
  });
});

describe("the connection's own lookup", () => {
  const lookupWith = (resolve: Resolver) =>
    new Promise<{ error: Error | null; addresses: unknown }>((done) => checkedLookup(resolve)("civitai.com", { all: true }, (error, addresses) => done({ error, addresses })));

  test("refuses a host that resolves to any non-global address, even among global ones", async () => {
    const mixed = await lookupWith(async () => [{ address: "104.18.2.3", family: 4 }, { address: "10.0.0.5", family: 4 }]);
    expect((mixed.error as unknown as DownloadError).code).toBe("ADDRESS_NOT_ALLOWED");
    const metadata = await lookupWith(async () => [{ address: "169.254.169.254", family: 4 }]);
    expect((metadata.error as unknown as DownloadError).code).toBe("ADDRESS_NOT_ALLOWED");
    const good = await lookupWith(async () => [{ address: "104.18.2.3", family: 4 }]);
    expect(good.error).toBeNull();
    expect(good.addresses).toEqual([{ address: "104.18.2.3", family: 4 }]);
  });

  test("a name that passes the URL check but answers loopback at connect time is refused (DNS rebinding)", async () => {
    // A rebinding resolver: the first answer (what a check-then-connect design would see) is
    // global, every later one loopback. Here the only lookup is the connection's own.
    let calls = 0;
    const rebinding: Resolver = async () => (calls++ === 0 ? [{ address: "104.18.2.3", family: 4 }] : [{ address: "127.0.0.1", family: 4 }]);
    calls = 1; // the attacker's answer for the connect
    const attempt = fetchOutbound({ url: new URL("https://civitai.com/api/download/models/1"), policy, headersFor: () => ({}), idleTimeoutMs: 2000, resolve: rebinding });
    await expect(attempt).rejects.toMatchObject({ code: "ADDRESS_NOT_ALLOWED" });
    expect(calls).toBe(2);
  });

  test("redirects are re-checked on every hop, credentials stay with their host, and hops are capped", async () => {
    const seen: { path: string; authorization: string | null }[] = [];
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(request) {
        const url = new URL(request.url);
        seen.push({ path: url.pathname, authorization: request.headers.get("authorization") });
        if (url.pathname === "/loop") return new Response(null, { status: 302, headers: { location: "/loop" } });
        if (url.pathname === "/to-metadata") return new Response(null, { status: 302, headers: { location: "http://169.254.169.254/latest/meta-data" } });
        if (url.pathname === "/to-other") return new Response(null, { status: 307, headers: { location: `http://127.0.0.1:${otherPort}/file` } });
        return new Response("ok");
      },
    });
    const other = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (request) => new Response(request.headers.get("authorization") ?? "no credentials") });
    const otherPort = other.port;
    const origin = `http://127.0.0.1:${server.port}`;
    const fakes = { allowedHosts: [], testOrigins: new Set([origin, `http://127.0.0.1:${otherPort}`]) };
    const headersFor = (url: URL) => (url.origin === origin ? { authorization: "Bearer key" } : ({} as Record<string, string>));
    try {
      await expect(fetchOutbound({ url: new URL(`${origin}/loop`), policy: fakes, headersFor, idleTimeoutMs: 2000 })).rejects.toMatchObject({ code: "TOO_MANY_REDIRECTS" });
      await expect(fetchOutbound({ url: new URL(`${origin}/to-metadata`), policy: fakes, headersFor, idleTimeoutMs: 2000 })).rejects.toMatchObject({ code: "REDIRECT_NOT_ALLOWED" });
      const followed = await fetchOutbound({ url: new URL(`${origin}/to-other`), policy: fakes, headersFor, idleTimeoutMs: 2000 });
      let body = "";
      for await (const chunk of followed.response) body += String(chunk);
      expect(body).toBe("no credentials");
      expect(followed.redirects.length).toBe(1);
    } finally {
      server.stop(true);
      other.stop(true);
    }
  });
});

describe("download requests", () => {
  test("pasted URLs become targets", () => {
    expect(targetFromUrl("https://civitai.com/models/123?modelVersionId=456")).toEqual({ source: "civitai", host: "civitai.com", modelId: 123, versionId: 456, query: {} });
    expect(targetFromUrl("https://civitai.red/api/download/models/77")).toMatchObject({ source: "civitai", host: "civitai.red", versionId: 77 });
    expect(targetFromUrl("https://www.civitai.com/api/v1/model-versions/9")).toMatchObject({ versionId: 9 });
    expect(targetFromUrl("https://huggingface.co/org/repo/resolve/v1.0/unet/model.safetensors?download=true")).toEqual({ source: "huggingface", repoId: "org/repo", filename: "model.safetensors", subfolder: "unet", revision: "v1.0" });
    expect(targetFromUrl("https://hf.co/org/repo/blob/main/m.gguf")).toMatchObject({ repoId: "org/repo", filename: "m.gguf" });
  });

  test("bad fields are refused with their own codes", () => {
    const parse = (body: unknown) => refusal(() => parseDownloadRequest(body, "civitai.com"));
    expect(parse([])).toBe("BAD_REQUEST");
    expect(parse({ source: "dropbox" })).toBe("SOURCE_INVALID");
    expect(parse({ source: "civitai" })).toBe("VERSION_REQUIRED");
    expect(parse({ source: "civitai", model_version_id: "1 OR 1=1" })).toBe("BAD_REQUEST");
    expect(parse({ source: "civitai", model_version_id: 1, civitai_host: "evil.example" })).toBe("BAD_CIVITAI_HOST");
    expect(parse({ source: "civitai", model_version_id: 1, folder_type: "../loras" })).toBe("FOLDER_INVALID");
    expect(parse({ source: "civitai", model_version_id: 1, preferred_filename: "../x.safetensors" })).toBe("FILENAME_INVALID");
    expect(parse({ source: "civitai", model_version_id: 1, preferred_filename: ".hidden.safetensors" })).toBe("FILENAME_INVALID");
    expect(parse({ source: "civitai", model_version_id: 1, destination_type: "s3" })).toBe("DESTINATION_UNSUPPORTED");
    expect(parse({ source: "huggingface", repo_id: "../x", filename: "a.safetensors" })).toBe("REPO_INVALID");
    expect(parse({ source: "huggingface", repo_id: "org/repo", filename: "a.safetensors", subfolder: "../../etc" })).toBe("SUBFOLDER_INVALID");
    expect(parse({ source: "huggingface", repo_id: "org/repo", filename: "a.safetensors", revision: "main/../../x" })).toBe("REVISION_INVALID");
    expect(parse({ url: "https://huggingface.co/org/repo/blob/main/a.safetensors", source: "civitai" })).toBe("SOURCE_MISMATCH");
    // Bytes count, not characters: 90 emoji would pass a 200-character limit and break the file system's 255 bytes.
    expect(parse({ source: "civitai", model_version_id: 1, preferred_filename: `${"😀".repeat(90)}.safetensors` })).toBe("FILENAME_INVALID");
    expect(parse({ source: "civitai", model_version_id: 1, preferred_filename: "a\u202egnp.safetensors" })).toBe("FILENAME_INVALID");
    expect(parse({ url: "https://huggingface.co/org/repo/blob/main/%E0%A4%A.safetensors" })).toBe("URL_INVALID");
  });

  test("the user's CivitAI host preference applies unless the request names one", () => {
    expect(parseDownloadRequest({ source: "civitai", model_version_id: 5 }, "civitai.red").target).toMatchObject({ host: "civitai.red" });
    expect(parseDownloadRequest({ source: "civitai", model_version_id: 5, civitai_host: "civitai.com" }, "civitai.red").target).toMatchObject({ host: "civitai.com" });
    expect(parseDownloadRequest({ url: "https://civitai.com/models/1?modelVersionId=2" }, "civitai.red").target).toMatchObject({ host: "civitai.com" });
  });
});
