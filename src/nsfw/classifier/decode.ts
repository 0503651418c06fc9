// Image bytes -> the 224x224 RGB input of nsfwjs's MobileNetV2. The header checks are cheap and
// allocate nothing, so the main thread runs them before sending bytes to a worker; the decode
// itself (Bun.Image) runs in the worker.
import { readPngRgb } from "./png-pixels.ts";
import type { ClassifyFailureResult, ImageFormat, UnsupportedFormat } from "./types.ts";

/** nsfwjs's MobileNetV2 input side (IMAGE_SIZE in nsfwjs/core). */
export const MODEL_INPUT_SIZE = 224;

export type SniffedFormat = ImageFormat | UnsupportedFormat;

export interface ImageHeader {
  format: ImageFormat;
  width: number;
  height: number;
}

export type HeaderResult = ({ ok: true } & ImageHeader) | ClassifyFailureResult;

export interface ModelInput extends ImageHeader {
  /** MODEL_INPUT_SIZE^2 * 3 bytes, row-major RGB, transparency composited over black. */
  rgb: Uint8Array;
}

export type DecodeResult = ({ ok: true } & ModelInput) | ClassifyFailureResult;

function failure(code: ClassifyFailureResult["code"], message: string, format: SniffedFormat | null = null): ClassifyFailureResult {
  return { ok: false, code, message, format };
}

function startsWith(bytes: Uint8Array, at: number, ascii: string): boolean {
  if (bytes.length < at + ascii.length) return false;
  for (let i = 0; i < ascii.length; i++) if (bytes[at + i] !== ascii.charCodeAt(i)) return false;
  return true;
}

// ISO-BMFF brands (the `ftyp` box) of still-image HEIF files; any other ftyp is a video container.
const AVIF_BRANDS = new Set(["avif", "avis"]);
const HEIC_BRANDS = new Set(["heic", "heix", "heim", "heis", "hevc", "hevx", "hevm", "hevs", "mif1", "msf1", "mif2"]);

function isoBrandFormat(bytes: Uint8Array): UnsupportedFormat {
  const boxSize = Math.min(bytes.length, new DataView(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, 4)).getUint32(0) || bytes.length);
  const brands: string[] = [];
  // Major brand at 8, then the compatible brands from 16 to the end of the box.
  for (let at = 8; at + 4 <= boxSize && at < 8 + 4 * 64; at += at === 8 ? 8 : 4) {
    brands.push(String.fromCharCode(bytes[at]!, bytes[at + 1]!, bytes[at + 2]!, bytes[at + 3]!));
  }
  if (brands.some((brand) => AVIF_BRANDS.has(brand))) return "avif";
  if (brands.some((brand) => HEIC_BRANDS.has(brand))) return "heic";
  return "video";
}

/** Sizes of the known BMP info headers (core, OS/2 2.x short and long, v1 to v5): "BM" alone is too common in text. */
const BMP_HEADER_SIZES = new Set([12, 16, 40, 52, 56, 64, 108, 124]);

/** The format announced by the magic bytes, or null when they are none we know. */
export function sniffFormat(bytes: Uint8Array): SniffedFormat | null {
  const b = bytes;
  if (b.length >= 8 && b[0] === 0x89 && startsWith(b, 1, "PNG\r\n\x1a\n")) return "png";
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "jpeg";
  if (startsWith(b, 0, "RIFF") && startsWith(b, 8, "WEBP")) return "webp";
  if (startsWith(b, 0, "GIF87a") || startsWith(b, 0, "GIF89a")) return "gif";
  if (startsWith(b, 0, "BM") && b.length >= 18 && BMP_HEADER_SIZES.has(new DataView(b.buffer, b.byteOffset + 14, 4).getUint32(0, true))) return "bmp";
  if (startsWith(b, 4, "ftyp")) return isoBrandFormat(b);
  if (startsWith(b, 0, "II*\0") || startsWith(b, 0, "MM\0*")) return "tiff";
  if (b.length >= 4 && b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3) return "video"; // Matroska / WebM
  if (startsWith(b, 0, "RIFF") && startsWith(b, 8, "AVI ")) return "video";
  return null;
}

/**
 * Format and pixel size from the header alone, refusing pixel bombs before any decode:
 * EMPTY, NOT_AN_IMAGE, UNSUPPORTED_FORMAT, CORRUPT_IMAGE (header unreadable) or TOO_MANY_PIXELS.
 */
export function readImageHeader(bytes: Uint8Array, maxPixels: number): HeaderResult {
  if (bytes.length === 0) return failure("EMPTY", "The file is empty.");
  const format = sniffFormat(bytes);
  if (format === null) return failure("NOT_AN_IMAGE", "The file is not an image the classifier knows.");
  if (format === "avif" || format === "heic" || format === "tiff" || format === "video") {
    return failure("UNSUPPORTED_FORMAT", `${format.toUpperCase()} files cannot be classified.`, format);
  }
  let size: { width: number; height: number } | null;
  try {
    size = HEADER_READERS[format](bytes, new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch {
    size = null; // a read past the end: the header is cut short
  }
  if (size === null || size.width <= 0 || size.height <= 0) {
    return failure("CORRUPT_IMAGE", `The ${format.toUpperCase()} header is damaged or cut short.`, format);
  }
  if (size.width * size.height > maxPixels) {
    return failure("TOO_MANY_PIXELS", `The image is ${size.width}x${size.height} pixels, more than the ${maxPixels} allowed.`, format);
  }
  return { ok: true, format, width: size.width, height: size.height };
}

type HeaderReader = (bytes: Uint8Array, view: DataView) => { width: number; height: number } | null;

const HEADER_READERS: Record<ImageFormat, HeaderReader> = {
  png(bytes, view) {
    // The first chunk must be IHDR: width and height as big-endian 32-bit.
    if (!startsWith(bytes, 12, "IHDR")) return null;
    return { width: view.getUint32(16), height: view.getUint32(20) };
  },

  jpeg(bytes, view) {
    let at = 2;
    while (at + 4 <= bytes.length) {
      if (bytes[at] !== 0xff) return null;
      const marker = bytes[at + 1]!;
      if (marker === 0xff) {
        at++; // fill byte
        continue;
      }
      // Markers without a length: TEM, RSTn, SOI.
      if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
        at += 2;
        continue;
      }
      if (marker === 0xd9 || marker === 0xda) return null; // end of image or scan data before any frame header
      const length = view.getUint16(at + 2);
      if (length < 2) return null;
      // SOF0-SOF15 except DHT (C4), JPG (C8) and DAC (CC): precision, height, width.
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        if (length < 7) return null;
        return { width: view.getUint16(at + 7), height: view.getUint16(at + 5) };
      }
      at += 2 + length;
    }
    return null;
  },

  webp(bytes, view) {
    if (startsWith(bytes, 12, "VP8 ")) {
      // Lossy: a 3-byte frame tag, the start code 9d 01 2a, then 14-bit sizes (2 bits of scale above).
      if (bytes[23] !== 0x9d || bytes[24] !== 0x01 || bytes[25] !== 0x2a) return null;
      return { width: view.getUint16(26, true) & 0x3fff, height: view.getUint16(28, true) & 0x3fff };
    }
    if (startsWith(bytes, 12, "VP8L")) {
      // Lossless: signature 0x2f, then (width - 1) and (height - 1) in 14 bits each.
      if (bytes[20] !== 0x2f) return null;
      const bits = view.getUint32(21, true);
      return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
    }
    if (startsWith(bytes, 12, "VP8X")) {
      // Extended (alpha, animation): canvas (width - 1) and (height - 1) in 24 bits each.
      const uint24 = (at: number) => bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16);
      if (bytes.length < 30) return null;
      return { width: uint24(24) + 1, height: uint24(27) + 1 };
    }
    return null;
  },

  gif(bytes, view) {
    const screen = { width: view.getUint16(6, true), height: view.getUint16(8, true) };
    // A frame may claim more than the logical screen: take the first frame's extent into account.
    const frame = firstGifFrame(bytes, view);
    if (frame === null) return screen;
    return { width: Math.max(screen.width, frame.right), height: Math.max(screen.height, frame.bottom) };
  },

  bmp(_bytes, view) {
    const headerSize = view.getUint32(14, true);
    if (headerSize === 12) return { width: view.getUint16(18, true), height: view.getUint16(20, true) }; // OS/2 core header
    // Negative height means rows stored top-down.
    return { width: view.getInt32(18, true), height: Math.abs(view.getInt32(22, true)) };
  },
};

/** The right and bottom edges of the first GIF image descriptor, or null if not within reach. */
function firstGifFrame(bytes: Uint8Array, view: DataView): { right: number; bottom: number } | null {
  const flags = bytes[10]!;
  let at = 13 + (flags & 0x80 ? 3 * (1 << ((flags & 0x07) + 1)) : 0);
  for (let blocks = 0; blocks < 1000 && at < bytes.length; blocks++) {
    const introducer = bytes[at];
    if (introducer === 0x2c) {
      if (at + 9 > bytes.length) return null;
      return { right: view.getUint16(at + 1, true) + view.getUint16(at + 5, true), bottom: view.getUint16(at + 3, true) + view.getUint16(at + 7, true) };
    }
    if (introducer !== 0x21) return null;
    at += 2; // introducer and label, then data sub-blocks up to a zero length
    while (at < bytes.length && bytes[at] !== 0) at += bytes[at]! + 1;
    at++;
  }
  return null;
}

const BUN_IMAGE_ERRORS: Readonly<Record<string, ClassifyFailureResult["code"]>> = {
  ERR_IMAGE_TOO_MANY_PIXELS: "TOO_MANY_PIXELS",
  ERR_IMAGE_FORMAT_UNSUPPORTED: "UNSUPPORTED_FORMAT",
  // The magic bytes were right (checked above), so a decoder that does not recognise the rest
  // is looking at damaged data.
  ERR_IMAGE_UNKNOWN_FORMAT: "CORRUPT_IMAGE",
};

/**
 * Bun.Image's bilinear is area-aware when shrinking (every source pixel counts), unlike
 * "nearest", which samples one pixel in N and lets a crafted image show the model a different
 * picture than people see (an image-scaling attack). It is as fast as "box" and smooth when
 * enlarging small images.
 */
const RESIZE_FILTER = "bilinear";

/**
 * Decodes (the first frame of animations), stretches to 224x224 as nsfwjs does with any other
 * size (`resizeBilinear` to a square, aspect ratio not kept) and returns RGB bytes. Bad input
 * never throws (it answers a failure); only an internal fault does (Bun.Image output this code
 * cannot read).
 */
export async function decodeForModel(bytes: Uint8Array, maxPixels: number): Promise<DecodeResult> {
  const header = readImageHeader(bytes, maxPixels);
  if (!header.ok) return header;
  let source = bytes;
  if (header.format === "webp" && isAnimatedWebp(bytes)) {
    // Bun.Image's WebP decoder refuses animations: hand it the first frame as a still WebP.
    const frame = firstWebpFrame(bytes);
    if (frame === null) return failure("CORRUPT_IMAGE", "The animated WEBP has no readable first frame.", "webp");
    source = frame;
  }
  let png: Uint8Array;
  try {
    // maxPixels again: Bun.Image checks the header it decodes, which might differ from the one read above.
    png = await new Bun.Image(source, { maxPixels })
      .resize(MODEL_INPUT_SIZE, MODEL_INPUT_SIZE, { fit: "fill", filter: RESIZE_FILTER })
      .png({ compressionLevel: 0 })
      .bytes();
  } catch (error) {
    const code = BUN_IMAGE_ERRORS[(error as { code?: string }).code ?? ""] ?? "CORRUPT_IMAGE";
    const detail = error instanceof Error ? error.message : String(error);
    return failure(code, `The ${header.format.toUpperCase()} image could not be decoded: ${detail}`, header.format);
  }
  const pixels = readPngRgb(png, MODEL_INPUT_SIZE * MODEL_INPUT_SIZE);
  if (pixels.width !== MODEL_INPUT_SIZE || pixels.height !== MODEL_INPUT_SIZE) {
    throw new Error(`Bun.Image resized to ${pixels.width}x${pixels.height} instead of ${MODEL_INPUT_SIZE}x${MODEL_INPUT_SIZE}`);
  }
  return { ok: true, format: header.format, width: header.width, height: header.height, rgb: pixels.rgb };
}

function isAnimatedWebp(bytes: Uint8Array): boolean {
  return startsWith(bytes, 12, "VP8X") && bytes.length > 20 && (bytes[20]! & 0x02) !== 0;
}

function riffChunk(fourCC: string, data: Uint8Array): Uint8Array {
  const chunk = new Uint8Array(8 + data.length + (data.length & 1)); // chunks are padded to even sizes
  for (let i = 0; i < 4; i++) chunk[i] = fourCC.charCodeAt(i);
  new DataView(chunk.buffer).setUint32(4, data.length, true);
  chunk.set(data, 8);
  return chunk;
}

/** The first ANMF frame of an animated WebP rewrapped as a still WebP, or null. */
export function firstWebpFrame(bytes: Uint8Array): Uint8Array | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const chunks = (from: number, to: number) => {
    const found: { fourCC: string; data: Uint8Array }[] = [];
    for (let at = from; at + 8 <= to; ) {
      const size = view.getUint32(at + 4, true);
      if (at + 8 + size > to) break;
      found.push({ fourCC: String.fromCharCode(...bytes.subarray(at, at + 4)), data: bytes.subarray(at + 8, at + 8 + size) });
      at += 8 + size + (size & 1);
    }
    return found;
  };
  const frame = chunks(12, bytes.length).find((chunk) => chunk.fourCC === "ANMF");
  if (frame === undefined || frame.data.length < 16) return null;
  // ANMF: x/2, y/2, width - 1, height - 1, duration (24 bits each), flags, then the frame's own chunks.
  const inner = chunks(frame.data.byteOffset - bytes.byteOffset + 16, frame.data.byteOffset - bytes.byteOffset + frame.data.length);
  const alpha = inner.find((chunk) => chunk.fourCC === "ALPH");
  const image = inner.find((chunk) => chunk.fourCC === "VP8 " || chunk.fourCC === "VP8L");
  if (image === undefined) return null;
  const parts: Uint8Array[] = [new TextEncoder().encode("WEBP")];
  if (alpha !== undefined && image.fourCC === "VP8 ") {
    // Lossy with a separate alpha plane needs the extended header that announces it.
    const extended = new Uint8Array(10);
    extended[0] = 0x10;
    extended.set(frame.data.subarray(6, 12), 4);
    parts.push(riffChunk("VP8X", extended), riffChunk("ALPH", alpha.data));
  }
  parts.push(riffChunk(image.fourCC, image.data));
  const body = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    body.set(part, at);
    at += part.length;
  }
  return riffChunk("RIFF", body);
}
