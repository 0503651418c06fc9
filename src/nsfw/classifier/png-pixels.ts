// Reads the pixels back out of a PNG. Bun.Image has no raw-pixel output, so the decoder encodes
// its 224x224 result as an uncompressed PNG and this turns it into RGB bytes. It handles what a
// PNG encoder may write without interlacing (grey, RGB, palette, grey+alpha, RGBA; 8 or 16
// bits) and nothing else: the input is our own encoder's output, not an upload.
import { inflateSync } from "node:zlib";

export interface RgbPixels {
  width: number;
  height: number;
  /** width * height * 3 bytes, row-major, alpha composited over black. */
  rgb: Uint8Array;
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Channels per pixel for each colour type. */
const CHANNELS: Readonly<Record<number, number>> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

export function readPngRgb(png: Uint8Array, maxPixels = 4096 * 4096): RgbPixels {
  if (png.length < 33 || SIGNATURE.some((byte, i) => png[i] !== byte)) throw new Error("not a PNG");
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let width = 0;
  let height = 0;
  let bitDepth = 0;
  let colourType = -1;
  let palette: Uint8Array | null = null;
  let paletteAlpha: Uint8Array | null = null;
  const idat: Uint8Array[] = [];
  let offset = 8;
  while (offset + 8 <= png.length) {
    const length = view.getUint32(offset);
    const type = String.fromCharCode(png[offset + 4]!, png[offset + 5]!, png[offset + 6]!, png[offset + 7]!);
    const start = offset + 8;
    const end = start + length;
    if (end + 4 > png.length) throw new Error(`PNG chunk ${type} is truncated`);
    const data = png.subarray(start, end);
    if (type === "IHDR") {
      width = view.getUint32(start);
      height = view.getUint32(start + 4);
      bitDepth = data[8]!;
      colourType = data[9]!;
      if (data[12] !== 0) throw new Error("interlaced PNG output is not supported");
    } else if (type === "PLTE") {
      palette = data;
    } else if (type === "tRNS") {
      paletteAlpha = data;
    } else if (type === "IDAT") {
      idat.push(data);
    } else if (type === "IEND") {
      break;
    }
    offset = end + 4; // skip the CRC: our own encoder wrote it
  }
  const channels = CHANNELS[colourType];
  if (channels === undefined || (bitDepth !== 8 && bitDepth !== 16)) {
    throw new Error(`PNG colour type ${colourType} at ${bitDepth} bits is not supported`);
  }
  if (width === 0 || height === 0 || width * height > maxPixels) throw new Error(`PNG size ${width}x${height} is out of range`);
  if (colourType === 3 && palette === null) throw new Error("palette PNG without PLTE");

  const bytesPerPixel = (channels * bitDepth) / 8;
  const stride = width * bytesPerPixel;
  const raw = inflateSync(idat.length === 1 ? idat[0]! : Buffer.concat(idat));
  if (raw.length < (stride + 1) * height) throw new Error("PNG pixel data is truncated");
  const rows = unfilter(raw, stride, height, bytesPerPixel);
  return { width, height, rgb: toRgb(rows, width, height, colourType, bitDepth, palette, paletteAlpha) };
}

/** Undoes the per-row filters in place over `raw` (filter byte + row); returns the bare rows. */
export function unfilter(raw: Uint8Array, stride: number, height: number, bytesPerPixel: number): Uint8Array {
  const out = new Uint8Array(stride * height);
  let previous = new Uint8Array(stride); // the row above the first is all zeros
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = out.subarray(y * stride, (y + 1) * stride);
    switch (filter) {
      case 0: // None
        row.set(line);
        break;
      case 1: // Sub
        for (let i = 0; i < stride; i++) row[i] = (line[i]! + (i >= bytesPerPixel ? row[i - bytesPerPixel]! : 0)) & 0xff;
        break;
      case 2: // Up
        for (let i = 0; i < stride; i++) row[i] = (line[i]! + previous[i]!) & 0xff;
        break;
      case 3: // Average
        for (let i = 0; i < stride; i++) {
          const left = i >= bytesPerPixel ? row[i - bytesPerPixel]! : 0;
          row[i] = (line[i]! + ((left + previous[i]!) >> 1)) & 0xff;
        }
        break;
      case 4: // Paeth
        for (let i = 0; i < stride; i++) {
          const left = i >= bytesPerPixel ? row[i - bytesPerPixel]! : 0;
          const upLeft = i >= bytesPerPixel ? previous[i - bytesPerPixel]! : 0;
          row[i] = (line[i]! + paeth(left, previous[i]!, upLeft)) & 0xff;
        }
        break;
      default:
        throw new Error(`PNG row ${y} has unknown filter type ${filter}`);
    }
    previous = row;
  }
  return out;
}

function paeth(left: number, up: number, upLeft: number): number {
  const estimate = left + up - upLeft;
  const toLeft = Math.abs(estimate - left);
  const toUp = Math.abs(estimate - up);
  const toUpLeft = Math.abs(estimate - upLeft);
  if (toLeft <= toUp && toLeft <= toUpLeft) return left;
  return toUp <= toUpLeft ? up : upLeft;
}

/**
 * Converts unfiltered rows to 8-bit RGB. Transparency is composited over black: ComfyUI shows
 * images on a dark page, and a browser canvas (what nsfwjs reads in a page) also turns fully
 * transparent pixels into black, whatever colour they hide.
 */
function toRgb(
  rows: Uint8Array,
  width: number,
  height: number,
  colourType: number,
  bitDepth: number,
  palette: Uint8Array | null,
  paletteAlpha: Uint8Array | null,
): Uint8Array {
  const pixels = width * height;
  const rgb = new Uint8Array(pixels * 3);
  // 16-bit samples: the high byte is enough for a model that sees 8-bit input.
  const step = bitDepth / 8;
  const sample = (pixel: number, channel: number, channels: number): number => rows[(pixel * channels + channel) * step]!;
  switch (colourType) {
    case 2:
      if (step === 1) {
        rgb.set(rows.subarray(0, pixels * 3));
      } else {
        for (let p = 0; p < pixels; p++) for (let c = 0; c < 3; c++) rgb[p * 3 + c] = sample(p, c, 3);
      }
      break;
    case 6:
      for (let p = 0; p < pixels; p++) {
        const alpha = sample(p, 3, 4);
        for (let c = 0; c < 3; c++) rgb[p * 3 + c] = overBlack(sample(p, c, 4), alpha);
      }
      break;
    case 0:
      for (let p = 0; p < pixels; p++) rgb.fill(sample(p, 0, 1), p * 3, p * 3 + 3);
      break;
    case 4:
      for (let p = 0; p < pixels; p++) rgb.fill(overBlack(sample(p, 0, 2), sample(p, 1, 2)), p * 3, p * 3 + 3);
      break;
    case 3:
      for (let p = 0; p < pixels; p++) {
        const index = rows[p]!;
        const alpha = paletteAlpha !== null && index < paletteAlpha.length ? paletteAlpha[index]! : 255;
        for (let c = 0; c < 3; c++) rgb[p * 3 + c] = overBlack(palette![index * 3 + c] ?? 0, alpha);
      }
      break;
  }
  return rgb;
}

function overBlack(value: number, alpha: number): number {
  return alpha === 255 ? value : Math.round((value * alpha) / 255);
}
