/**
 * Binary WebSocket frames (`protocol.BinaryEventTypes`, spec §4.3). Every frame starts with a
 * big-endian u32 event type.
 */
import { pyJsonDumps } from "./py-json.ts";

export const BinaryEvent = {
  PREVIEW_IMAGE: 1,
  TEXT: 3,
  PREVIEW_IMAGE_WITH_METADATA: 4,
} as const;

/** Image type numbers inside a type-1 frame. */
export const PreviewImageType = { JPEG: 1, PNG: 2 } as const;

const encoder = new TextEncoder();

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function u32(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value);
  return bytes;
}

/** Type 1: `[u32 1][u32 image_type][image bytes]`. */
export function previewImageFrame(imageType: number, image: Uint8Array): Uint8Array {
  return concat([u32(BinaryEvent.PREVIEW_IMAGE), u32(imageType), image]);
}

/** Type 3: `[u32 3][u32 len(node_id)][node_id][text]`, both UTF-8. */
export function progressTextFrame(nodeId: string, text: string): Uint8Array {
  const node = encoder.encode(nodeId);
  return concat([u32(BinaryEvent.TEXT), u32(node.length), node, encoder.encode(text)]);
}

export interface PreviewMetadata {
  node_id: string;
  prompt_id: string;
  display_node_id: string;
  parent_node_id: string | null;
  real_node_id: string;
  image_type: string;
}

/** Type 4: `[u32 4][u32 len(metadata)][metadata JSON][image bytes]`. */
export function previewWithMetadataFrame(metadata: PreviewMetadata, image: Uint8Array): Uint8Array {
  const json = encoder.encode(pyJsonDumps(metadata));
  return concat([u32(BinaryEvent.PREVIEW_IMAGE_WITH_METADATA), u32(json.length), json, image]);
}

export interface DecodedFrame {
  eventType: number;
  imageType?: number;
  nodeId?: string;
  text?: string;
  metadata?: unknown;
  payload: Uint8Array;
}

/** Reads a frame back (used by tests and by anyone checking what the fake sent). */
export function decodeBinaryFrame(frame: Uint8Array): DecodedFrame {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const eventType = view.getUint32(0);
  const decoder = new TextDecoder();
  if (eventType === BinaryEvent.PREVIEW_IMAGE) {
    return { eventType, imageType: view.getUint32(4), payload: frame.subarray(8) };
  }
  if (eventType === BinaryEvent.TEXT) {
    const length = view.getUint32(4);
    const nodeId = decoder.decode(frame.subarray(8, 8 + length));
    return { eventType, nodeId, text: decoder.decode(frame.subarray(8 + length)), payload: frame.subarray(8 + length) };
  }
  if (eventType === BinaryEvent.PREVIEW_IMAGE_WITH_METADATA) {
    const length = view.getUint32(4);
    const metadata: unknown = JSON.parse(decoder.decode(frame.subarray(8, 8 + length)));
    return { eventType, metadata, payload: frame.subarray(8 + length) };
  }
  return { eventType, payload: frame.subarray(4) };
}
