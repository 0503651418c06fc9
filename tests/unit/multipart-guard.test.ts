/** The multipart header guard: file names lose their paths, bodies pass byte for byte, in any chunking. */
import { describe, expect, test } from "bun:test";
import { dispositionParams, multipartHeaderGuard, MultipartRefused, rewritePartHeaders, safeUploadName } from "../../src/isolation/multipart-guard.ts";

const BOUNDARY = "----mssBoundary7";

function body(parts: Array<{ headers: string; content: Uint8Array | string }>): Uint8Array {
  const encoder = new TextEncoder();
  const chunks: Uint8Array[] = [];
  for (const part of parts) {
    chunks.push(encoder.encode(`--${BOUNDARY}\r\n${part.headers}\r\n\r\n`));
    chunks.push(typeof part.content === "string" ? encoder.encode(part.content) : part.content);
    chunks.push(encoder.encode("\r\n"));
  }
  chunks.push(encoder.encode(`--${BOUNDARY}--\r\n`));
  return Buffer.concat(chunks);
}

async function through(input: Uint8Array, chunkSize: number): Promise<Uint8Array> {
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < input.length; i += chunkSize) controller.enqueue(input.subarray(i, i + chunkSize));
      controller.close();
    },
  });
  return new Uint8Array(await new Response(stream.pipeThrough(multipartHeaderGuard(BOUNDARY))).arrayBuffer());
}

/** What ComfyUI (aiohttp) would read: Bun's own multipart parser stands in for it. */
async function parse(bytes: Uint8Array): Promise<FormData> {
  return new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { "content-type": `multipart/form-data; boundary=${BOUNDARY}` } }).formData();
}

describe("multipart header guard", () => {
  const image = new Uint8Array(70_000).map((_, i) => (i * 7) % 256);
  // A body that contains something like a boundary, but not the real one.
  image.set(new TextEncoder().encode(`\r\n--${BOUNDARY.slice(0, -1)}X`), 30_000);

  for (const chunkSize of [1, 7, 64, 4096, 1 << 20]) {
    test(`paths go from file names and bodies pass intact (chunks of ${chunkSize})`, async () => {
      const input = body([
        { headers: 'Content-Disposition: form-data; name="subfolder"', content: "u-mine" },
        { headers: 'Content-Disposition: form-data; name="image"; filename="../u-other/victim.png"\r\nContent-Type: image/png', content: image },
        { headers: 'Content-Disposition: form-data; name="overwrite"', content: "true" },
      ]);
      const form = await parse(await through(input, chunkSize));
      const file = form.get("image") as File;
      expect(file.name).toBe("victim.png");
      expect(new Uint8Array(await file.arrayBuffer())).toEqual(image);
      expect([form.get("subfolder"), form.get("overwrite")]).toEqual(["u-mine", "true"]);
    });
  }

  test("filename* (RFC 5987), backslashes, dots and control characters", () => {
    expect(rewritePartHeaders(`Content-Disposition: form-data; name="image"; filename="x.png"; filename*=UTF-8''..%2F..%2Fu-b%2Fa.png`)).toBe('Content-Disposition: form-data; name="image"; filename="a.png"');
    expect(safeUploadName("..\\..\\evil.png")).toBe("evil.png");
    expect(safeUploadName("..")).toBe("upload");
    expect(safeUploadName("a\u0000b.png")).toBe("ab.png");
    expect(dispositionParams('; name="a\\"b"; filename=plain.png').get("name")).toBe('a"b');
  });

  test("a body without a boundary, or with endless part headers, is refused", async () => {
    await expect(through(new TextEncoder().encode("no multipart here"), 5)).rejects.toBeInstanceOf(MultipartRefused);
    const endless = new TextEncoder().encode(`--${BOUNDARY}\r\nX-Long: ${"a".repeat(20_000)}`);
    await expect(through(endless, 1000)).rejects.toBeInstanceOf(MultipartRefused);
  });
});
