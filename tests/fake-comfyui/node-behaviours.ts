/**
 * What each node class does when the fake "runs" it. No image processing happens: an IMAGE is
 * a description (size, batch, colour), and output nodes write small solid-colour PNGs. What is
 * reproduced is what a proxy can observe: file names and folders, progress messages, binary
 * previews, progress text, runtime errors and how long work takes.
 */
import { posix } from "node:path";
import { fileBytes, type FileStore } from "./file-store.ts";
import type { IdSource } from "./id-source.ts";
import { encodeSolidPng } from "./png.ts";
import { pyJsonDumps } from "./py-json.ts";
import type { JsonObject, PromptGraph } from "./prompt-validation.ts";
import { fakeTraceback, pyInt, pyRepr, pyStr } from "./python-values.ts";
import { isInside, joinAbsolute, relativeTo, typeDirectory, type FileType } from "./virtual-paths.ts";

export interface ImageValue {
  kind: "image";
  width: number;
  height: number;
  batch: number;
  color: number;
}

/** What a running node may do; implemented by the prompt worker. */
export interface NodeRuntime {
  readonly promptId: string;
  readonly nodeId: string;
  readonly prompt: PromptGraph;
  readonly extraData: JsonObject;
  readonly files: FileStore;
  readonly ids: IdSource;
  /** Time that uninterruptible work takes (auto mode sleeps; manual mode does not). */
  work(ms: number): Promise<void>;
  /** stepDelayMs plus the per-megapixel cost, scaled by `factor`. */
  workMs(pixels: number, factor?: number): number;
  /**
   * One progress-bar update: an interrupt check, `progress_state`, the work, then the preview
   * and the `progress` message (spec §10.5 step 5.3).
   */
  tick(value: number, max: number, preview: Uint8Array | null, workMs: number): Promise<void>;
  /** A type-3 binary text frame, always with sid=None (finding 10). */
  progressText(text: string): void;
}

export interface NodeOutcome {
  outputs: unknown[];
  /** The UI output: what `executed` carries and history stores. */
  ui?: JsonObject;
}

/** A Python exception raised by a node while it runs (becomes `execution_error`). */
export class NodeFailure extends Error {
  constructor(
    readonly exceptionType: string,
    message: string,
    readonly traceback: string[],
  ) {
    super(message);
    this.name = "NodeFailure";
  }
}

type Behaviour = (inputs: Record<string, unknown>, runtime: NodeRuntime) => Promise<NodeOutcome>;

const PREVIEW_MAX_SIDE = 512;

function asImage(value: unknown): ImageValue {
  if (value !== null && typeof value === "object" && (value as ImageValue).kind === "image") return value as ImageValue;
  return { kind: "image", width: 64, height: 64, batch: 1, color: 0 };
}

function pixels(image: ImageValue): number {
  return image.width * image.height * image.batch;
}

function previewPng(image: ImageValue): Uint8Array {
  return encodeSolidPng({
    width: Math.min(image.width, PREVIEW_MAX_SIDE),
    height: Math.min(image.height, PREVIEW_MAX_SIDE),
    color: image.color,
  });
}

interface SaveTarget {
  folder: string;
  subfolder: string;
  filename: string;
  counter: number;
}

/**
 * `folder_paths.get_save_image_path`: the prefix may name a sub-folder; it must stay inside the
 * output directory; the counter continues after the highest `<name>_<digits>_` already there.
 */
function saveTarget(prefix: string, type: FileType, files: FileStore): SaveTarget {
  const normalised = posix.normalize(prefix);
  const subfolder = posix.dirname(normalised) === "." ? "" : posix.dirname(normalised);
  const filename = posix.basename(normalised);
  const root = typeDirectory(type);
  const folder = joinAbsolute(root, subfolder);
  if (!isInside(root, folder)) {
    const common = isInside(folder, root) ? folder : "/";
    const message =
      "**** ERROR: Saving image outside the output folder is not allowed." +
      `\n full_output_folder: ${folder}` +
      `\n         output_dir: ${root}` +
      `\n         commonpath: ${common}\n`;
    throw new NodeFailure(
      "Exception",
      message,
      fakeTraceback(["execution.py", "execute"], ["nodes.py", "save_images"], ["folder_paths.py", "get_save_image_path"]),
    );
  }
  const relativeFolder = relativeTo(root, folder);
  let highest = 0;
  for (const name of files.namesIn(type, relativeFolder)) {
    if (name.slice(0, filename.length) !== filename || name[filename.length] !== "_") continue;
    const digits = Number.parseInt(name.slice(filename.length + 1).split("_")[0] ?? "", 10);
    highest = Math.max(highest, Number.isNaN(digits) ? 0 : digits);
  }
  files.makeDirectories(type, relativeFolder);
  return { folder: relativeFolder, subfolder, filename, counter: highest + 1 };
}

async function saveImages(
  inputs: Record<string, unknown>,
  runtime: NodeRuntime,
  type: FileType,
  prefix: string,
): Promise<NodeOutcome> {
  const image = asImage(inputs.images);
  await runtime.work(runtime.workMs(pixels(image), 0.5));
  const target = saveTarget(prefix, type, runtime.files);
  // Like SaveImage, embed the prompt and every extra_pnginfo entry as text chunks.
  const text: Record<string, string> = { prompt: pyJsonDumps(runtime.prompt) };
  const pngInfo = runtime.extraData.extra_pnginfo;
  if (pngInfo !== null && typeof pngInfo === "object" && !Array.isArray(pngInfo)) {
    for (const [key, value] of Object.entries(pngInfo)) text[key] = pyJsonDumps(value);
  }
  const bytes = encodeSolidPng({ width: image.width, height: image.height, color: image.color, text });
  const images: JsonObject[] = [];
  for (let i = 0; i < image.batch; i++) {
    const name = `${target.filename}_${String(target.counter + i).padStart(5, "0")}_.png`;
    runtime.files.write(type, target.folder === "" ? name : `${target.folder}/${name}`, bytes);
    images.push({ filename: name, subfolder: target.subfolder, type });
  }
  return { outputs: [], ui: { images } };
}

const emptyImage: Behaviour = async (inputs, runtime) => {
  const image: ImageValue = {
    kind: "image",
    width: pyInt(inputs.width),
    height: pyInt(inputs.height),
    batch: pyInt(inputs.batch_size),
    color: pyInt(inputs.color),
  };
  await runtime.work(runtime.workMs(pixels(image)));
  return { outputs: [image] };
};

const imageBlur: Behaviour = async (inputs, runtime) => {
  const image = asImage(inputs.image);
  const radius = typeof inputs.blur_radius === "number" ? inputs.blur_radius : 1;
  // A large blur is the recorded "slow job"; it cannot be interrupted while it runs.
  await runtime.work(runtime.workMs(pixels(image), Math.max(1, radius / 3)));
  return { outputs: [image] };
};

const saveImage: Behaviour = (inputs, runtime) =>
  saveImages(inputs, runtime, "output", pyStr(inputs.filename_prefix ?? "ComfyUI"));

const previewImage: Behaviour = (inputs, runtime) =>
  saveImages(inputs, runtime, "temp", `ComfyUI_temp_${runtime.ids.letters(5)}`);

const saveImageWebsocket: Behaviour = async (inputs, runtime) => {
  const image = asImage(inputs.images);
  const single = { ...image, batch: 1 };
  for (let i = 0; i < image.batch; i++) {
    await runtime.tick(i, image.batch, previewPng(single), runtime.workMs(pixels(single)));
  }
  return { outputs: [] };
};

const getImageSize: Behaviour = async (inputs, runtime) => {
  const image = asImage(inputs.image);
  await runtime.work(runtime.workMs(0));
  runtime.progressText(`width: ${image.width}, height: ${image.height}\n batch size: ${image.batch}`);
  return { outputs: [image.width, image.height, image.batch] };
};

const loadImage: Behaviour = async (inputs, runtime) => {
  const name = pyStr(inputs.image).replace(/ \[(input|output|temp)\]$/, "");
  const file = runtime.files.get("input", name);
  let width = 64;
  let height = 64;
  if (file !== undefined) {
    try {
      const meta = await new Bun.Image(fileBytes(file)).metadata();
      width = meta.width;
      height = meta.height;
    } catch {
      throw new NodeFailure(
        "PIL.UnidentifiedImageError",
        `cannot identify image file '/srv/ComfyUI/input/${name}'`,
        fakeTraceback(["execution.py", "execute"], ["nodes.py", "load_image"]),
      );
    }
  }
  await runtime.work(runtime.workMs(width * height));
  const image: ImageValue = { kind: "image", width, height, batch: 1, color: 0x808080 };
  return { outputs: [image, { kind: "mask", width, height }] };
};

const fakeSampler: Behaviour = async (inputs, runtime) => {
  const steps = pyInt(inputs.steps);
  const failAt = inputs.fail_at_step === undefined ? 0 : pyInt(inputs.fail_at_step);
  const source = inputs.image === undefined ? null : asImage(inputs.image);
  const image: ImageValue = {
    kind: "image",
    width: source?.width ?? pyInt(inputs.width),
    height: source?.height ?? pyInt(inputs.height),
    batch: source?.batch ?? 1,
    color: inputs.color === undefined ? 0x808080 : pyInt(inputs.color),
  };
  const preview = previewPng({ ...image, batch: 1 });
  for (let step = 1; step <= steps; step++) {
    await runtime.tick(step, steps, preview, runtime.workMs(0));
    if (step === failAt) {
      throw new NodeFailure(
        "RuntimeError",
        `FakeSampler failed at step ${step} of ${steps}`,
        fakeTraceback(["execution.py", "execute"], ["custom_nodes/fake_sampler.py", "sample"]),
      );
    }
  }
  return { outputs: [image] };
};

export const NODE_BEHAVIOURS: Record<string, Behaviour> = {
  EmptyImage: emptyImage,
  ImageBlur: imageBlur,
  SaveImage: saveImage,
  PreviewImage: previewImage,
  SaveImageWebsocket: saveImageWebsocket,
  GetImageSize: getImageSize,
  LoadImage: loadImage,
  FakeSampler: fakeSampler,
};

/** `current_inputs` of an `execution_error`: every input as a one-element list of its repr. */
export function describeInputs(inputs: Record<string, unknown>): JsonObject {
  const out: JsonObject = {};
  for (const [name, value] of Object.entries(inputs)) {
    if (value !== null && typeof value === "object" && (value as ImageValue).kind === "image") {
      const image = value as ImageValue;
      out[name] = [`tensor(<${image.batch}x${image.height}x${image.width}x3 image>)`];
    } else if (typeof value === "object" && value !== null) {
      out[name] = [pyRepr(value)];
    } else {
      out[name] = [value as string | number | boolean | null];
    }
  }
  return out;
}
