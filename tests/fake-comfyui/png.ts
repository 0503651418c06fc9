/**
 * A minimal PNG writer: solid-colour RGB images with optional `tEXt` chunks. Real ComfyUI
 * embeds the prompt and the workflow as `tEXt` chunks in every saved image, so the fake does too
 * (a gateway must treat output images as carrying workflows).
 */
import { deflateSync } from "node:zlib";

const SIGNATURE = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Bigger images are written at this size: the fake stores pictures, not pixels. */
export const MAX_PNG_SIDE = 2048;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = (CRC_TABLE[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return ~c >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

function latin1(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    bytes[i] = code < 256 ? code : 0x3f;
  }
  return bytes;
}

export interface SolidPngOptions {
  width: number;
  height: number;
  /** 0xRRGGBB, as EmptyImage's `color` input. */
  color: number;
  /** `tEXt` chunks, keyword → text (Latin-1; other characters become `?`). */
  text?: Record<string, string>;
}

export function encodeSolidPng({ width, height, color, text = {} }: SolidPngOptions): Uint8Array {
  const w = Math.max(1, Math.min(MAX_PNG_SIDE, Math.floor(width)));
  const h = Math.max(1, Math.min(MAX_PNG_SIDE, Math.floor(height)));
  const header = new Uint8Array(13);
  const headerView = new DataView(header.buffer);
  headerView.setUint32(0, w);
  headerView.setUint32(4, h);
  header[8] = 8; // bit depth
  header[9] = 2; // colour type: RGB
  const row = new Uint8Array(1 + 3 * w); // filter byte 0, then pixels
  for (let x = 0; x < w; x++) {
    row[1 + 3 * x] = (color >> 16) & 0xff;
    row[2 + 3 * x] = (color >> 8) & 0xff;
    row[3 + 3 * x] = color & 0xff;
  }
  const raw = new Uint8Array(row.length * h);
  for (let y = 0; y < h; y++) raw.set(row, y * row.length);
  const parts = [SIGNATURE, chunk("IHDR", header)];
  for (const [keyword, value] of Object.entries(text)) {
    const data = new Uint8Array([...latin1(keyword), 0, ...latin1(value)]);
    parts.push(chunk("tEXt", data));
  }
  parts.push(chunk("IDAT", new Uint8Array(deflateSync(raw))), chunk("IEND", new Uint8Array(0)));
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && SIGNATURE.every((b, i) => bytes[i] === b);
}
