// A classifier worker thread: loads nsfwjs's MobileNetV2 on TensorFlow.js's WebAssembly backend,
// then decodes and classifies one image per message. Each worker has its own model: Bun runs
// WebAssembly single-threaded, so parallelism comes from several workers.
//
// Everything is loaded the way that survives `bun build --compile` (this file must also be an
// entrypoint of that build, see pool.ts):
// - TensorFlow.js through its single-file CommonJS builds (`require`): through the ESM entry
//   points the bundle never registered the platform and kernels;
// - the .wasm binaries imported as files, so that they are embedded and found by path;
// - the model files required by literal path, so that the bundler sees and embeds them (nsfwjs's
//   own loaders compute the path, which the bundler cannot follow).
import simdWasmPath from "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm" with { type: "file" };
import plainWasmPath from "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm" with { type: "file" };
import { decodeForModel, MODEL_INPUT_SIZE } from "./decode.ts";
import type { FromWorker, ToWorker, WorkerMemory } from "./protocol.ts";
import { NSFW_CLASSES, type ClassifyResult, type NsfwClass, type NsfwScores } from "./types.ts";

declare var self: Worker;

type Tf = typeof import("@tensorflow/tfjs");
type WasmBackendModule = typeof import("@tensorflow/tfjs-backend-wasm");
type NsfwCore = typeof import("nsfwjs/core");
type NsfwModel = Awaited<ReturnType<NsfwCore["load"]>>;

const tf = require("@tensorflow/tfjs") as Tf;
const wasmBackend = require("@tensorflow/tfjs-backend-wasm") as WasmBackendModule;
const nsfwjs = require("nsfwjs/core") as NsfwCore;

function post(message: FromWorker): void {
  try {
    self.postMessage(message);
  } catch {
    // Nothing to tell: the pool is gone, or it notices the missing answer (stuck-worker watchdog).
  }
}

function memory(): WorkerMemory {
  const backend = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } } | undefined;
  // In a Bun worker, heapUsed is this worker's own heap (rss would be the whole process's).
  return { wasmBytes: backend?.wasm?.HEAPU8?.buffer.byteLength ?? 0, heapBytes: process.memoryUsage().heapUsed };
}

async function loadModel(): Promise<NsfwModel> {
  // Bun has no threaded WebAssembly: never ask for the threaded binary. setWasmPaths still
  // wants an entry for it, which therefore is never read.
  tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
  wasmBackend.setWasmPaths({
    "tfjs-backend-wasm-simd.wasm": simdWasmPath,
    "tfjs-backend-wasm.wasm": plainWasmPath, // runtimes without WebAssembly SIMD
    "tfjs-backend-wasm-threaded-simd.wasm": simdWasmPath,
  });
  tf.enableProdMode();
  if (!(await tf.setBackend("wasm"))) throw new Error("the TensorFlow.js WebAssembly backend did not initialise");
  await tf.ready();
  const info = console.info;
  console.info = () => {}; // nsfwjs greets on stdout at every load
  try {
    return await nsfwjs.load("MobileNetV2", {
      modelDefinitions: [
        {
          name: "MobileNetV2",
          numOfWeightBundles: 1,
          // Relative paths: nsfwjs's package "exports" hide dist/models from bare specifiers.
          modelJson: async () => ({ default: require("../../../node_modules/nsfwjs/dist/models/mobilenet_v2/model.min.js") }),
          weightBundles: [async () => ({ default: require("../../../node_modules/nsfwjs/dist/models/mobilenet_v2/group1-shard1of1.min.js") })],
        },
      ],
    });
  } finally {
    console.info = info;
  }
}

async function classify(model: NsfwModel, bytes: Uint8Array, maxPixels: number): Promise<ClassifyResult> {
  const started = performance.now();
  const decoded = await decodeForModel(bytes, maxPixels);
  if (!decoded.ok) return decoded;
  // Exactly what nsfwjs.classify(tensor3d) sees for an already-224x224 image: it divides by 255
  // itself and skips its own resize.
  const input = tf.tensor3d(Int32Array.from(decoded.rgb), [MODEL_INPUT_SIZE, MODEL_INPUT_SIZE, 3], "int32");
  let predictions: Awaited<ReturnType<NsfwModel["classify"]>>;
  try {
    predictions = await model.classify(input, NSFW_CLASSES.length);
  } finally {
    input.dispose();
  }
  const scores = Object.fromEntries(NSFW_CLASSES.map((name) => [name, 0])) as NsfwScores;
  for (const { className, probability } of predictions) scores[className as NsfwClass] = probability;
  return { ok: true, scores, format: decoded.format, width: decoded.width, height: decoded.height, ms: Math.round((performance.now() - started) * 10) / 10 };
}

const started = performance.now();
const loading = loadModel();
loading.then(
  () => {
    const loadMs = Math.round(performance.now() - started);
    Bun.gc(true); // once: drop the model's base64 text and JSON before the first memory reading
    post({ type: "ready", loadMs, backend: tf.getBackend(), memory: memory() });
  },
  (error: unknown) => post({ type: "load-failed", message: error instanceof Error ? error.message : String(error) }),
);

// One image at a time: the pool sends the next only after the answer, but a chain keeps it so.
let queue: Promise<unknown> = Promise.resolve();

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const request = event.data;
  if (request.type !== "classify") return;
  queue = queue.then(async () => {
    let result: ClassifyResult;
    try {
      result = await classify(await loading, request.bytes, request.maxPixels);
    } catch (error) {
      result = { ok: false, code: "CLASSIFIER_FAILED", message: `Classification failed: ${error instanceof Error ? error.message : String(error)}` };
    }
    post({ type: "result", id: request.id, result, memory: memory(), tensors: tf.memory().numTensors });
  });
};
