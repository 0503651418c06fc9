// Image bytes -> 224x224 RGB for the NSFW model: format sniffing, header limits checked before
// any decode, every supported format, and bad inputs that must fail cleanly (never throw).
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { deflateSync } from "node:zlib";
import { decodeForModel, firstWebpFrame, MODEL_INPUT_SIZE, readImageHeader, sniffFormat, type DecodeResult } from "../../src/nsfw/classifier/decode.ts";
import { readPngRgb } from "../../src/nsfw/classifier/png-pixels.ts";
import type { ClassifyFailure } from "../../src/nsfw/classifier/types.ts";
import { animatedWebp, concatBytes, encodeBmp, encodePng, paintRgba, PNG_SIGNATURE, pngChunk, pngIhdr, safeImage } from "../support/nsfw-images.ts";

const FIXTURES = join(import.meta.dir, "../fixtures/images");
const MAX_PIXELS = 50_000_000;
const ascii = (text: string) => new TextEncoder().encode(text);
const fixture = (name: string) => Bun.file(join(FIXTURES, name)).bytes();

function pixelAt(result: DecodeResult, x: number, y: number): number[] {
  if (!result.ok) throw new Error(`expected a decoded image, got ${result.code}: ${result.message}`);
  const at = (y * MODEL_INPUT_SIZE + x) * 3;
  return Array.from(result.rgb.subarray(at, at + 3));
}

function expectClose(actual: number[], expected: number[], tolerance: number): void {
  actual.forEach((value, i) => expect(Math.abs(value - expected[i]!)).toBeLessThanOrEqual(tolerance));
}

/** A PNG whose IHDR claims `width` x `height` over a tiny (wrong) pixel stream. */
function pngClaiming(width: number, height: number): Uint8Array {
  return concatBytes([PNG_SIGNATURE, pngIhdr(width, height), pngChunk("IDAT", new Uint8Array([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])), pngChunk("IEND", new Uint8Array(0))]);
}

/** SOI, a JFIF APP0 segment, then a baseline SOF0 claiming `width` x `height`, and nothing else. */
function jpegClaiming(width: number, height: number): Uint8Array {
  const app0 = [0xff, 0xe0, 0x00, 0x10, ...ascii("JFIF\0"), 1, 1, 0, 0, 1, 0, 1, 0, 0];
  const sof0 = [0xff, 0xc0, 0x00, 0x11, 8, height >> 8, height & 0xff, width >> 8, width & 0xff, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1];
  return new Uint8Array([0xff, 0xd8, ...app0, ...sof0]);
}

describe("format sniffing", () => {
  test("each supported format is recognised by its magic bytes", async () => {
    expect(sniffFormat(await fixture("landscape-320x240.png"))).toBe("png");
    expect(sniffFormat(await fixture("landscape-320x240.jpg"))).toBe("jpeg");
    expect(sniffFormat(await fixture("drawing-256.webp"))).toBe("webp");
    expect(sniffFormat(await fixture("drawing-64x48-2frames.gif"))).toBe("gif");
    expect(sniffFormat(await fixture("landscape-160x120.bmp"))).toBe("bmp");
  });

  test("visual media the classifier cannot read answer UNSUPPORTED_FORMAT with their format", () => {
    const ftyp = (major: string, ...compatible: string[]) => {
      const box = concatBytes([new Uint8Array(4), ascii("ftyp"), ascii(major), new Uint8Array(4), ...compatible.map(ascii)]);
      new DataView(box.buffer).setUint32(0, box.length);
      return concatBytes([box, new Uint8Array(64)]);
    };
    const cases: [Uint8Array, string][] = [
      [ftyp("avif", "mif1", "miaf"), "avif"],
      [ftyp("mif1", "avif"), "avif"],
      [ftyp("heic", "mif1"), "heic"],
      [ftyp("isom", "iso2", "mp41"), "video"],
      [ftyp("qt  "), "video"],
      [concatBytes([ascii("II*\0"), new Uint8Array(60)]), "tiff"],
      [concatBytes([ascii("MM\0*"), new Uint8Array(60)]), "tiff"],
      [new Uint8Array([0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81, 0x01]), "video"],
      [concatBytes([ascii("RIFF"), new Uint8Array(4), ascii("AVI LIST")]), "video"],
    ];
    for (const [bytes, format] of cases) {
      expect(readImageHeader(bytes, MAX_PIXELS)).toMatchObject({ ok: false, code: "UNSUPPORTED_FORMAT", format });
    }
  });

  test("anything else is NOT_AN_IMAGE, and zero bytes are EMPTY", () => {
    expect(readImageHeader(new Uint8Array(0), MAX_PIXELS)).toMatchObject({ ok: false, code: "EMPTY" });
    for (const text of ["hello, this is a text file named picture.png\n", "<svg xmlns='http://www.w3.org/2000/svg'/>", "{\"prompt\": {}}", "BM", "BMW and Bentley are car makers, not bitmaps.", "GIF8", "\x89PN"]) {
      expect(readImageHeader(ascii(text), MAX_PIXELS)).toMatchObject({ ok: false, code: "NOT_AN_IMAGE", format: null });
    }
  });
});

describe("header dimensions, read before decoding", () => {
  test("every format's width and height", async () => {
    const lossless = await new Bun.Image(await fixture("landscape-320x240.png")).webp({ lossless: true }).bytes();
    const withAlpha = await new Bun.Image(encodePng(90, 70, paintRgba({ width: 90, height: 70 }, () => [10, 20, 30, 100]).rgba)).webp({ quality: 80 }).bytes();
    const cases: [Uint8Array, string, number, number][] = [
      [await fixture("landscape-320x240.png"), "png", 320, 240],
      [await fixture("landscape-320x240.jpg"), "jpeg", 320, 240],
      [await fixture("drawing-256.webp"), "webp", 256, 256], // lossy VP8
      [lossless, "webp", 320, 240], // VP8L
      [withAlpha, "webp", 90, 70], // VP8X + ALPH
      [await fixture("red-then-blue-64x48.webp"), "webp", 64, 48], // animated
      [await fixture("drawing-64x48-2frames.gif"), "gif", 64, 48],
      [await fixture("landscape-160x120.bmp"), "bmp", 160, 120],
    ];
    for (const [bytes, format, width, height] of cases) {
      expect(readImageHeader(bytes, MAX_PIXELS)).toEqual({ ok: true, format: format as "png", width, height });
    }
  });

  test("a PNG declaring 100000x100000 is refused at once, without a big allocation", async () => {
    const bomb = pngClaiming(100_000, 100_000);
    const rssBefore = process.memoryUsage.rss();
    const started = performance.now();
    const header = readImageHeader(bomb, MAX_PIXELS);
    const decoded = await decodeForModel(bomb, MAX_PIXELS);
    const elapsed = performance.now() - started;
    expect(header).toMatchObject({ ok: false, code: "TOO_MANY_PIXELS", format: "png" });
    expect(decoded).toMatchObject({ ok: false, code: "TOO_MANY_PIXELS", format: "png" });
    expect(elapsed).toBeLessThan(50); // the work is a few byte reads; 40 GB of pixels were never allocated
    expect(process.memoryUsage.rss() - rssBefore).toBeLessThan(64 * 1024 * 1024);
  });

  test("a JPEG whose frame header claims 65535x65535 is refused before decoding", async () => {
    const bomb = jpegClaiming(65_535, 65_535);
    expect(readImageHeader(bomb, MAX_PIXELS)).toMatchObject({ ok: false, code: "TOO_MANY_PIXELS", format: "jpeg" });
    expect(await decodeForModel(bomb, MAX_PIXELS)).toMatchObject({ ok: false, code: "TOO_MANY_PIXELS" });
    // Within the limit the header passes, and the missing scan data is a corrupt image.
    expect(readImageHeader(jpegClaiming(640, 480), MAX_PIXELS)).toEqual({ ok: true, format: "jpeg", width: 640, height: 480 });
    expect(await decodeForModel(jpegClaiming(640, 480), MAX_PIXELS)).toMatchObject({ ok: false, code: "CORRUPT_IMAGE", format: "jpeg" });
  });

  test("WebP, GIF and BMP headers claiming too many pixels are refused", () => {
    const webp = new Uint8Array(30);
    webp.set(ascii("RIFF"), 0);
    webp.set(ascii("WEBPVP8X"), 8);
    webp.set([0xff, 0xff, 0x3f, 0xff, 0xff, 0x3f], 24); // 4194304 x 4194304 canvas
    expect(readImageHeader(webp, MAX_PIXELS)).toMatchObject({ ok: false, code: "TOO_MANY_PIXELS", format: "webp" });

    const gif = concatBytes([ascii("GIF89a"), new Uint8Array([0xff, 0xff, 0xff, 0xff, 0, 0, 0]), new Uint8Array(20)]);
    expect(readImageHeader(gif, MAX_PIXELS)).toMatchObject({ ok: false, code: "TOO_MANY_PIXELS", format: "gif" });
    // A small logical screen with a huge first frame is judged by the frame.
    const frame = new Uint8Array([0x2c, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0]);
    const sneaky = concatBytes([ascii("GIF89a"), new Uint8Array([16, 0, 16, 0, 0, 0, 0]), frame, new Uint8Array(8)]);
    expect(readImageHeader(sneaky, MAX_PIXELS)).toMatchObject({ ok: false, code: "TOO_MANY_PIXELS", format: "gif" });

    const bmp = encodeBmp(4, 4, new Uint8Array(64));
    new DataView(bmp.buffer).setInt32(18, 30_000, true);
    new DataView(bmp.buffer).setInt32(22, -30_000, true); // top-down rows: negative height
    expect(readImageHeader(bmp, MAX_PIXELS)).toMatchObject({ ok: false, code: "TOO_MANY_PIXELS", format: "bmp" });
  });

  test("the pixel limit is the caller's", async () => {
    const png = await fixture("landscape-320x240.png");
    expect(readImageHeader(png, 320 * 240)).toMatchObject({ ok: true });
    expect(readImageHeader(png, 320 * 240 - 1)).toMatchObject({ ok: false, code: "TOO_MANY_PIXELS" });
  });

  test("headers cut short or with impossible sizes are CORRUPT_IMAGE", async () => {
    const png = await fixture("landscape-320x240.png");
    const cases: Uint8Array[] = [
      png.slice(0, 20), // IHDR cut off
      pngClaiming(0, 100),
      jpegClaiming(0, 480),
      new Uint8Array([0xff, 0xd8, 0xff, 0xda, 0x00, 0x08]), // scan before any frame header
      concatBytes([ascii("RIFF"), new Uint8Array(4), ascii("WEBPABCD"), new Uint8Array(20)]), // no VP8 chunk
      concatBytes([ascii("GIF89a"), new Uint8Array([0, 0, 10, 0])]),
      concatBytes([ascii("BM"), new Uint8Array(12), new Uint8Array([40, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0])]), // width 0
    ];
    for (const bytes of cases) expect(readImageHeader(bytes, MAX_PIXELS)).toMatchObject({ ok: false, code: "CORRUPT_IMAGE" });
  });
});

describe("decoding to the model's 224x224 RGB input", () => {
  test("every format decodes to 224x224x3 with the picture's colours", async () => {
    const skyBlue = [90, 150, 235]; // top-left of the "landscape" pattern
    const cases: [string, string, number[], number][] = [
      ["landscape-320x240.png", "png", skyBlue, 3],
      ["landscape-320x240.jpg", "jpeg", skyBlue, 12],
      ["landscape-160x120.bmp", "bmp", skyBlue, 3],
      ["drawing-256.webp", "webp", [255, 255, 255], 12], // white background
      ["drawing-64x48-2frames.gif", "gif", [255, 255, 255], 3],
    ];
    for (const [name, format, topLeft, tolerance] of cases) {
      const bytes = await fixture(name);
      const result = await decodeForModel(bytes, MAX_PIXELS);
      expect(result).toMatchObject({ ok: true, format });
      if (!result.ok) continue;
      expect(result.rgb.length).toBe(MODEL_INPUT_SIZE * MODEL_INPUT_SIZE * 3);
      expectClose(pixelAt(result, 0, 0), topLeft, tolerance);
    }
  });

  test("the image is stretched to the square, as nsfwjs does", async () => {
    // Left half red, right half blue, 400x100: the middle column stays the boundary.
    const { width, height, rgba } = paintRgba({ width: 400, height: 100 }, (x) => (x < 200 ? [255, 0, 0, 255] : [0, 0, 255, 255]));
    const result = await decodeForModel(encodePng(width, height, rgba), MAX_PIXELS);
    expect(result).toMatchObject({ ok: true, width: 400, height: 100 });
    expectClose(pixelAt(result, 50, 200), [255, 0, 0], 2);
    expectClose(pixelAt(result, 170, 20), [0, 0, 255], 2);
  });

  test("animations are judged by their first frame (GIF and WebP)", async () => {
    // The GIF's second frame is all blue; its first is the drawing (white around the house).
    const gif = await decodeForModel(await fixture("drawing-64x48-2frames.gif"), MAX_PIXELS);
    expectClose(pixelAt(gif, 223, 0), [255, 255, 255], 3);
    const webp = await decodeForModel(await fixture("red-then-blue-64x48.webp"), MAX_PIXELS);
    expect(webp).toMatchObject({ ok: true, format: "webp", width: 64, height: 48 });
    expectClose(pixelAt(webp, 100, 100), [255, 0, 0], 2);
    // Lossy frames with an alpha plane (VP8X + ALPH + VP8 in the frame) too.
    const lossy = await animatedWebp(40, 30, [[0, 200, 0], [200, 0, 0]], { lossy: true, alpha: 255 });
    expectClose(pixelAt(await decodeForModel(lossy, MAX_PIXELS), 100, 100), [0, 200, 0], 12);
    const translucent = await animatedWebp(40, 30, [[0, 200, 0], [200, 0, 0]], { lossy: true, alpha: 128 });
    expectClose(pixelAt(await decodeForModel(translucent, MAX_PIXELS), 100, 100), [0, 100, 0], 12);
    expect(firstWebpFrame(await fixture("drawing-256.webp"))).toBeNull(); // a still has no frames to pick
  });

  test("transparency is composited over black, whatever colour it hides", async () => {
    const { width, height, rgba } = paintRgba(64, (x) => (x < 32 ? [255, 0, 0, 0] : [0, 255, 0, 128]));
    const result = await decodeForModel(encodePng(width, height, rgba), MAX_PIXELS);
    expectClose(pixelAt(result, 20, 100), [0, 0, 0], 0);
    expectClose(pixelAt(result, 200, 100), [0, 128, 0], 2);
  });

  test("a noisy 1024x1024 PNG (worst case for decoding) decodes", async () => {
    const result = await decodeForModel(await safeImage("png", 1024, "noise"), MAX_PIXELS);
    expect(result).toMatchObject({ ok: true, format: "png", width: 1024, height: 1024 });
  });
});

describe("bad input never throws", () => {
  test("zero bytes, text named .png, truncated PNG, and a PNG with a bad pixel stream", async () => {
    const png = await fixture("landscape-320x240.png");
    const cases: [Uint8Array, ClassifyFailure][] = [
      [new Uint8Array(0), "EMPTY"],
      [ascii("this is a text file, saved as image.png\n".repeat(20)), "NOT_AN_IMAGE"],
      [png.slice(0, png.length >> 1), "CORRUPT_IMAGE"],
      [png.slice(0, 60), "CORRUPT_IMAGE"],
      [pngClaiming(64, 64), "CORRUPT_IMAGE"],
      [concatBytes([png.slice(0, 33), new Uint8Array(200).fill(0x5a)]), "CORRUPT_IMAGE"],
    ];
    for (const [bytes, code] of cases) expect(await decodeForModel(bytes, MAX_PIXELS)).toMatchObject({ ok: false, code });
  });

  test("truncations and bit flips of every fixture give a result or a clean failure", async () => {
    const allowed = new Set(["CORRUPT_IMAGE", "NOT_AN_IMAGE", "UNSUPPORTED_FORMAT", "TOO_MANY_PIXELS"]);
    const names = ["landscape-320x240.png", "landscape-320x240.jpg", "drawing-256.webp", "drawing-64x48-2frames.gif", "landscape-160x120.bmp", "red-then-blue-64x48.webp"];
    let random = 12345;
    const next = (below: number) => {
      random = (random * 1103515245 + 12345) % 2147483648;
      return random % below;
    };
    let failures = 0;
    for (const name of names) {
      const original = await fixture(name);
      for (let round = 0; round < 24; round++) {
        const bytes = round % 2 === 0 ? original.slice(0, 1 + next(original.length - 1)) : original.slice();
        if (round % 2 === 1) for (let flip = 0; flip < 4; flip++) bytes[next(bytes.length)]! ^= 1 << next(8);
        const result = await decodeForModel(bytes, MAX_PIXELS);
        if (result.ok) {
          expect(result.rgb.length).toBe(MODEL_INPUT_SIZE * MODEL_INPUT_SIZE * 3);
        } else {
          failures++;
          expect(allowed.has(result.code)).toBe(true);
        }
      }
    }
    expect(failures).toBeGreaterThan(0);
  });
});

describe("PNG pixel reader (Bun.Image has no raw output)", () => {
  const { width, height, rgba } = paintRgba({ width: 37, height: 23 }, (x, y) => [(x * 7) & 0xff, (y * 11) & 0xff, (x * y) & 0xff, x % 3 === 0 ? 255 : (x * 5) & 0xff]);

  test("all five row filters, RGBA and RGB", () => {
    for (const alpha of [true, false]) {
      const png = encodePng(width, height, rgba, { alpha, filters: [0, 1, 2, 3, 4] });
      const pixels = readPngRgb(png);
      expect(pixels.width).toBe(width);
      expect(pixels.height).toBe(height);
      for (let p = 0; p < width * height; p++) {
        const a = alpha ? rgba[p * 4 + 3]! : 255;
        for (let c = 0; c < 3; c++) expect(pixels.rgb[p * 3 + c]).toBe(Math.round((rgba[p * 4 + c]! * a) / 255));
      }
    }
  });

  test("reads Bun.Image's own uncompressed output back to the same pixels", async () => {
    const opaque = paintRgba({ width: 50, height: 40 }, (x, y) => [x * 5, y * 6, 77, 255]);
    const again = await new Bun.Image(encodePng(50, 40, opaque.rgba)).png({ compressionLevel: 0 }).bytes();
    const pixels = readPngRgb(again);
    for (let p = 0; p < 50 * 40; p++) for (let c = 0; c < 3; c++) expect(pixels.rgb[p * 3 + c]).toBe(opaque.rgba[p * 4 + c]!);
  });

  test("grey, grey+alpha and 16-bit samples", () => {
    const raw = (rows: number[][]) => new Uint8Array(rows.flatMap((row) => [0, ...row]));
    const build = (bitDepth: number, colourType: number, rows: number[][]) =>
      concatBytes([PNG_SIGNATURE, pngIhdr(2, rows.length, bitDepth, colourType), pngChunk("IDAT", deflateSync(raw(rows))), pngChunk("IEND", new Uint8Array(0))]);
    const rgbOf = (png: Uint8Array) => Array.from(readPngRgb(png).rgb);
    expect(rgbOf(build(8, 0, [[10, 200]]))).toEqual([10, 10, 10, 200, 200, 200]);
    expect(rgbOf(build(8, 4, [[100, 255, 100, 0]]))).toEqual([100, 100, 100, 0, 0, 0]);
    expect(rgbOf(build(16, 2, [[1, 0, 2, 0, 3, 0, 250, 9, 251, 9, 252, 9]]))).toEqual([1, 2, 3, 250, 251, 252]);
  });

  test("refuses what it does not read", () => {
    expect(() => readPngRgb(ascii("not a png at all, really not a png"))).toThrow();
    const interlaced = encodePng(4, 4, new Uint8Array(64));
    interlaced[28] = 1; // IHDR interlace method
    expect(() => readPngRgb(interlaced)).toThrow(/interlaced/);
  });
});
