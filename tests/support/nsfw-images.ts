/**
 * Safe, generated test pictures for the NSFW classifier (gradients, noise, flat drawings): no
 * real photographs, nothing explicit. PNG, GIF and BMP are written byte by byte here; JPEG and
 * WebP are re-encoded from a PNG with Bun.Image.
 */
import { deflateSync } from "node:zlib";

export type SafeImageKind = "png" | "jpeg" | "webp" | "gif" | "bmp";
export type SafePattern = "landscape" | "noise" | "drawing" | "flat";
export type Size = number | { width: number; height: number };

/** RGBA for pixel (x, y) of a width x height picture. */
export type Painter = (x: number, y: number, width: number, height: number) => readonly [number, number, number, number];

/** Deterministic pseudo-random bytes (xorshift32), so "noise" pictures are the same every run. */
export function seededRandom(seed = 0x9e3779b9): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state & 0xff;
  };
}

export function painter(pattern: SafePattern, seed = 1): Painter {
  switch (pattern) {
    case "landscape":
      // Sky fading to a horizon, a sun, green hills below.
      return (x, y, w, h) => {
        const horizon = h * (0.6 + 0.08 * Math.sin((x / w) * Math.PI * 3));
        const sun = (x - w * 0.75) ** 2 + (y - h * 0.22) ** 2 < (w * 0.08) ** 2;
        if (sun) return [255, 220, 90, 255];
        if (y < horizon) return [90 + (110 * y) / h, 150 + (70 * y) / h, 235, 255];
        return [40 + (30 * x) / w, 120 + (60 * (y - horizon)) / h, 50, 255];
      };
    case "drawing":
      // Flat-coloured shapes on white, like clip art: a house and a tree.
      return (x, y, w, h) => {
        const u = x / w;
        const v = y / h;
        if (v > 0.45 && v < 0.85 && u > 0.15 && u < 0.55) return u > 0.3 && u < 0.4 && v > 0.62 ? [120, 70, 30, 255] : [230, 80, 60, 255];
        if (v <= 0.45 && v > 0.2 && Math.abs(u - 0.35) < (v - 0.2) * 0.9) return [90, 60, 140, 255];
        if ((u - 0.75) ** 2 + (v - 0.45) ** 2 < 0.02) return [40, 160, 60, 255];
        if (u > 0.73 && u < 0.77 && v >= 0.55 && v < 0.85) return [110, 70, 40, 255];
        if (v >= 0.85) return [120, 190, 90, 255];
        return [255, 255, 255, 255];
      };
    case "noise": {
      // Worst case for PNG compression and decoding time.
      const next = seededRandom(seed);
      return () => [next(), next(), next(), 255];
    }
    case "flat":
      return () => [128, 160, 200, 255];
  }
}

function dimensions(size: Size): { width: number; height: number } {
  return typeof size === "number" ? { width: size, height: size } : size;
}

function paint(size: Size, paintPixel: Painter): { width: number; height: number; rgba: Uint8Array } {
  const { width, height } = dimensions(size);
  const rgba = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b, a] = paintPixel(x, y, width, height);
      const at = (y * width + x) * 4;
      rgba[at] = r;
      rgba[at + 1] = g;
      rgba[at + 2] = b;
      rgba[at + 3] = a;
    }
  }
  return { width, height, rgba };
}

// ---------- PNG ----------

export function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const chunk = new Uint8Array(12 + data.length);
  const view = new DataView(chunk.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) chunk[4 + i] = type.charCodeAt(i);
  chunk.set(data, 8);
  view.setUint32(8 + data.length, Bun.hash.crc32(chunk.subarray(4, 8 + data.length)));
  return chunk;
}

export const PNG_SIGNATURE = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export function pngIhdr(width: number, height: number, bitDepth = 8, colourType = 6): Uint8Array {
  const data = new Uint8Array(13);
  const view = new DataView(data.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  data[8] = bitDepth;
  data[9] = colourType;
  return pngChunk("IHDR", data);
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * Encodes RGBA (colour type 6) or RGB (colour type 2) as PNG. Each row uses `filters[y % n]`
 * (0-4), so a PNG reader's un-filtering can be exercised on every filter type.
 */
export function encodePng(width: number, height: number, rgba: Uint8Array, options: { alpha?: boolean; filters?: readonly number[]; level?: number } = {}): Uint8Array {
  const channels = options.alpha === false ? 3 : 4;
  const filters = options.filters ?? [0];
  const stride = width * channels;
  const raw = new Uint8Array((stride + 1) * height);
  const rows: Uint8Array[] = [];
  for (let y = 0; y < height; y++) {
    const row = new Uint8Array(stride);
    for (let x = 0; x < width; x++) for (let c = 0; c < channels; c++) row[x * channels + c] = rgba[(y * width + x) * 4 + c]!;
    rows.push(row);
  }
  for (let y = 0; y < height; y++) {
    const filter = filters[y % filters.length]!;
    const row = rows[y]!;
    const above = y > 0 ? rows[y - 1]! : new Uint8Array(stride);
    raw[y * (stride + 1)] = filter;
    for (let i = 0; i < stride; i++) {
      const left = i >= channels ? row[i - channels]! : 0;
      const up = above[i]!;
      const upLeft = i >= channels ? above[i - channels]! : 0;
      let predicted = 0;
      if (filter === 1) predicted = left;
      else if (filter === 2) predicted = up;
      else if (filter === 3) predicted = (left + up) >> 1;
      else if (filter === 4) {
        const p = left + up - upLeft;
        const pa = Math.abs(p - left);
        const pb = Math.abs(p - up);
        const pc = Math.abs(p - upLeft);
        predicted = pa <= pb && pa <= pc ? left : pb <= pc ? up : upLeft;
      }
      raw[y * (stride + 1) + 1 + i] = (row[i]! - predicted) & 0xff;
    }
  }
  return concatBytes([
    PNG_SIGNATURE,
    pngIhdr(width, height, 8, channels === 4 ? 6 : 2),
    pngChunk("IDAT", deflateSync(raw, { level: options.level ?? 6 })),
    pngChunk("IEND", new Uint8Array(0)),
  ]);
}

// ---------- GIF ----------

/**
 * Encodes frames as a GIF with a 256-colour palette (3-3-2 bits of R-G-B) and LZW data that
 * never grows past 9-bit codes (a clear code every 254 pixels): large but simple and valid.
 */
export function encodeGif(width: number, height: number, frames: readonly Uint8Array[], delayCs = 50): Uint8Array {
  const parts: Uint8Array[] = [];
  const header = new Uint8Array(13);
  header.set(new TextEncoder().encode("GIF89a"));
  new DataView(header.buffer).setUint16(6, width, true);
  new DataView(header.buffer).setUint16(8, height, true);
  header[10] = 0xf7; // global colour table of 256 entries
  parts.push(header);
  const palette = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    palette[i * 3] = Math.round((((i >> 5) & 7) * 255) / 7);
    palette[i * 3 + 1] = Math.round((((i >> 2) & 7) * 255) / 7);
    palette[i * 3 + 2] = Math.round(((i & 3) * 255) / 3);
  }
  parts.push(palette);
  if (frames.length > 1) {
    // NETSCAPE2.0 loop extension: loop forever.
    parts.push(new Uint8Array([0x21, 0xff, 0x0b, ...new TextEncoder().encode("NETSCAPE2.0"), 0x03, 0x01, 0x00, 0x00, 0x00]));
  }
  for (const rgba of frames) {
    parts.push(new Uint8Array([0x21, 0xf9, 0x04, 0x00, delayCs & 0xff, delayCs >> 8, 0x00, 0x00]));
    const descriptor = new Uint8Array(10);
    descriptor[0] = 0x2c;
    new DataView(descriptor.buffer).setUint16(5, width, true);
    new DataView(descriptor.buffer).setUint16(7, height, true);
    parts.push(descriptor);
    const indices = new Uint8Array(width * height);
    for (let p = 0; p < indices.length; p++) {
      indices[p] = (rgba[p * 4]! & 0xe0) | ((rgba[p * 4 + 1]! >> 3) & 0x1c) | (rgba[p * 4 + 2]! >> 6);
    }
    parts.push(new Uint8Array([8]), gifSubBlocks(lzwNineBit(indices)), new Uint8Array([0]));
  }
  parts.push(new Uint8Array([0x3b]));
  return concatBytes(parts);
}

function lzwNineBit(indices: Uint8Array): Uint8Array {
  const clear = 256;
  const end = 257;
  const out: number[] = [];
  let buffer = 0;
  let bits = 0;
  const emit = (code: number) => {
    buffer |= code << bits;
    bits += 9;
    while (bits >= 8) {
      out.push(buffer & 0xff);
      buffer >>>= 8;
      bits -= 8;
    }
  };
  emit(clear);
  for (let i = 0; i < indices.length; i++) {
    // Each literal adds a table entry (from the second on); clear before codes would need 10 bits.
    if (i > 0 && i % 254 === 0) emit(clear);
    emit(indices[i]!);
  }
  emit(end);
  if (bits > 0) out.push(buffer & 0xff);
  return new Uint8Array(out);
}

function gifSubBlocks(data: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let at = 0; at < data.length; at += 255) {
    const block = data.subarray(at, at + 255);
    parts.push(new Uint8Array([block.length]), block);
  }
  return concatBytes(parts);
}

// ---------- BMP ----------

/** 24-bit bottom-up BI_RGB bitmap. */
export function encodeBmp(width: number, height: number, rgba: Uint8Array): Uint8Array {
  const stride = Math.ceil((width * 3) / 4) * 4;
  const bytes = new Uint8Array(54 + stride * height);
  const view = new DataView(bytes.buffer);
  bytes[0] = 0x42;
  bytes[1] = 0x4d;
  view.setUint32(2, bytes.length, true);
  view.setUint32(10, 54, true);
  view.setUint32(14, 40, true);
  view.setInt32(18, width, true);
  view.setInt32(22, height, true);
  view.setUint16(26, 1, true);
  view.setUint16(28, 24, true);
  view.setUint32(34, stride * height, true);
  for (let y = 0; y < height; y++) {
    const row = 54 + (height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      const from = (y * width + x) * 4;
      bytes[row + x * 3] = rgba[from + 2]!;
      bytes[row + x * 3 + 1] = rgba[from + 1]!;
      bytes[row + x * 3 + 2] = rgba[from]!;
    }
  }
  return bytes;
}

// ---------- any kind ----------

/**
 * A safe generated picture: `kind` is the file format, `size` its pixel size (a number for a
 * square), `pattern` what it shows. GIFs get two frames when `frames` is 2 (the second a flat colour).
 */
export async function safeImage(kind: SafeImageKind, size: Size = 256, pattern: SafePattern = "landscape", options: { frames?: 1 | 2; seed?: number } = {}): Promise<Uint8Array> {
  const { width, height, rgba } = paint(size, painter(pattern, options.seed));
  switch (kind) {
    case "png":
      return encodePng(width, height, rgba);
    case "bmp":
      return encodeBmp(width, height, rgba);
    case "gif": {
      const frames = [rgba];
      if (options.frames === 2) frames.push(paint(size, () => [0, 0, 255, 255]).rgba);
      return encodeGif(width, height, frames);
    }
    case "jpeg":
      return new Bun.Image(encodePng(width, height, rgba, { level: 1 })).jpeg({ quality: 85 }).bytes();
    case "webp":
      return new Bun.Image(encodePng(width, height, rgba, { level: 1 })).webp({ quality: 80 }).bytes();
  }
}

/** RGBA pixels for a pattern, for tests that build their own containers. */
export function paintRgba(size: Size, pattern: SafePattern | Painter, seed?: number): { width: number; height: number; rgba: Uint8Array } {
  return paint(size, typeof pattern === "function" ? pattern : painter(pattern, seed));
}

// ---------- animated WebP ----------

function riffChunk(fourCC: string, data: Uint8Array): Uint8Array {
  const chunk = new Uint8Array(8 + data.length + (data.length & 1));
  chunk.set(new TextEncoder().encode(fourCC));
  new DataView(chunk.buffer).setUint32(4, data.length, true);
  chunk.set(data, 8);
  return chunk;
}

const uint24 = (value: number) => [value & 0xff, (value >> 8) & 0xff, (value >> 16) & 0xff];

/**
 * An animated WebP (VP8X + ANIM + one ANMF per frame), each frame a flat colour encoded as a
 * lossless (or lossy, with an alpha plane when `alpha` < 255) still by Bun.Image.
 */
export async function animatedWebp(width: number, height: number, colours: readonly (readonly [number, number, number])[], options: { lossy?: boolean; alpha?: number } = {}): Promise<Uint8Array> {
  const alpha = options.alpha ?? 255;
  const frames: Uint8Array[] = [];
  for (const [r, g, b] of colours) {
    const { rgba } = paint({ width, height }, () => [r, g, b, alpha]);
    const still = await new Bun.Image(encodePng(width, height, rgba)).webp(options.lossy ? { quality: 90 } : { lossless: true }).bytes();
    // A still's chunks after "RIFF....WEBP", minus any VP8X header (the animation has its own).
    let inner = still.subarray(12);
    if (new TextDecoder().decode(inner.subarray(0, 4)) === "VP8X") inner = inner.subarray(18);
    const header = new Uint8Array([...uint24(0), ...uint24(0), ...uint24(width - 1), ...uint24(height - 1), ...uint24(100), 0]);
    frames.push(riffChunk("ANMF", concatBytes([header, inner])));
  }
  const flags = 0x02 | (alpha < 255 ? 0x10 : 0); // animation, alpha
  const body = concatBytes([
    new TextEncoder().encode("WEBP"),
    riffChunk("VP8X", new Uint8Array([flags, 0, 0, 0, ...uint24(width - 1), ...uint24(height - 1)])),
    riffChunk("ANIM", new Uint8Array([255, 255, 255, 255, 0, 0])),
    ...frames,
  ]);
  return riffChunk("RIFF", body);
}
