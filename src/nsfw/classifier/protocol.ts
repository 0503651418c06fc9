// Messages between the pool (main thread) and a classifier worker.
import type { ClassifyResult } from "./types.ts";

export interface ClassifyRequest {
  type: "classify";
  id: number;
  /** The whole buffer is transferred to the worker, not copied. */
  bytes: Uint8Array;
  maxPixels: number;
}

export type ToWorker = ClassifyRequest;

export interface WorkerMemory {
  /** WebAssembly linear memory of the TensorFlow.js backend (grows, never shrinks). */
  wasmBytes: number;
  /** This worker's JavaScript heap. */
  heapBytes: number;
}

export type FromWorker =
  | { type: "ready"; loadMs: number; backend: string; memory: WorkerMemory }
  | { type: "load-failed"; message: string }
  | { type: "result"; id: number; result: ClassifyResult; memory: WorkerMemory; tensors: number };
