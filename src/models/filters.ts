/**
 * Model visibility applied to ComfyUI's answers and prompts (issue 4, the original's model
 * isolation, reference §4.11 and §10.4). Pure: the caller passes what a user may see as a
 * predicate `(folder, name) => boolean`; asking for the name `*` asks whether the whole folder
 * is visible.
 *
 * Limits, by design: only the loader nodes named in MODEL_INPUTS (ComfyUI's core loaders and a
 * few well-known custom detectors) and `embedding:` references in text are checked. A custom
 * node that loads files through inputs of its own is not covered.
 */

export type ModelPredicate = (folder: string, name: string) => boolean;

/** Longest model name accepted anywhere (ComfyUI's names are relative paths). */
export const MAX_MODEL_NAME_LENGTH = 512;

/**
 * A model name as ComfyUI resolves it (`folder_paths.get_full_path`: joined to "/" and made
 * relative again), with `/` between segments: `a\b.safetensors` and `x/../b.safetensors`
 * name `a/b.safetensors` and `b.safetensors`. Null when nothing is left or the name cannot be
 * one (control characters, too long).
 */
export function normaliseModelName(name: string): string | null {
  // eslint-disable-next-line no-control-regex
  if (name.length === 0 || name.length > MAX_MODEL_NAME_LENGTH || /[\u0000-\u001f\u007f]/.test(name)) return null;
  const segments: string[] = [];
  for (const segment of name.split(/[\\/]+/)) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") segments.pop();
    else segments.push(segment);
  }
  return segments.length === 0 ? null : segments.join("/");
}

/**
 * Loader nodes and the inputs that name a model file, by the folder the file comes from
 * (reference §4.11). `CheckpointLoader.config_name` (a YAML file of `configs`) is not a model.
 */
export const MODEL_INPUTS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  CheckpointLoaderSimple: { ckpt_name: "checkpoints" },
  CheckpointLoader: { ckpt_name: "checkpoints" },
  ImageOnlyCheckpointLoader: { ckpt_name: "checkpoints" },
  unCLIPCheckpointLoader: { ckpt_name: "checkpoints" },
  LoraLoader: { lora_name: "loras" },
  LoraLoaderModelOnly: { lora_name: "loras" },
  VAELoader: { vae_name: "vae" },
  CLIPLoader: { clip_name: "text_encoders" },
  DualCLIPLoader: { clip_name1: "text_encoders", clip_name2: "text_encoders" },
  TripleCLIPLoader: { clip_name1: "text_encoders", clip_name2: "text_encoders", clip_name3: "text_encoders" },
  QuadrupleCLIPLoader: { clip_name1: "text_encoders", clip_name2: "text_encoders", clip_name3: "text_encoders", clip_name4: "text_encoders" },
  CLIPVisionLoader: { clip_name: "clip_vision" },
  ControlNetLoader: { control_net_name: "controlnet" },
  DiffControlNetLoader: { control_net_name: "controlnet" },
  UpscaleModelLoader: { model_name: "upscale_models" },
  StyleModelLoader: { style_model_name: "style_models" },
  GLIGENLoader: { gligen_name: "gligen" },
  HypernetworkLoader: { hypernetwork_name: "hypernetworks" },
  UNETLoader: { unet_name: "diffusion_models" },
  DiffusersLoader: { model_path: "diffusers" },
  PhotoMakerLoader: { photomaker_model_name: "photomaker" },
  AudioEncoderLoader: { audio_encoder_name: "audio_encoders" },
  ModelPatchLoader: { name: "model_patches" },
  // Impact Pack detectors and SAM (folders registered by those custom nodes).
  UltralyticsDetectorProvider: { model_name: "ultralytics" },
  ONNXDetectorProvider: { model_name: "onnx" },
  MMDetDetectorProvider: { model_name: "mmdets" },
  SAMLoader: { model_name: "sams" },
};

/**
 * Entries of VAELoader's list that are not files of `vae`: the small preview decoders
 * (TAESD, from `vae_approx`) and "no VAE". Visible to everyone; they are not the models an
 * admin shares.
 */
const BUILT_IN_VAE_NAMES: ReadonlySet<string> = new Set(["pixel_space", "taesd", "taesdxl", "taesd3", "taef1"]);

/** File endings ComfyUI loads embeddings (and other models) from; `/embeddings` lists names without them. */
const MODEL_EXTENSIONS = [".safetensors", ".pt", ".bin", ".pth", ".ckpt", ".pt2", ".pkl", ".sft"] as const;

/** Whether one model file may be used, with the name normalised as ComfyUI would. */
export function seesModel(sees: ModelPredicate, folder: string, name: string): boolean {
  if (folder === "vae" && BUILT_IN_VAE_NAMES.has(name)) return true;
  const normalised = normaliseModelName(name);
  return normalised !== null && sees(folder, normalised);
}

/** An embedding named as `/embeddings` and prompt text name it: with or without its extension. */
export function seesEmbedding(sees: ModelPredicate, name: string): boolean {
  const normalised = normaliseModelName(name);
  if (normalised === null) return false;
  return sees("embeddings", normalised) || MODEL_EXTENSIONS.some((extension) => sees("embeddings", normalised + extension));
}

// ---- answers --------------------------------------------------------------------------

/** `GET /models/{folder}`: a list of file names. Anything else passes unchanged. */
export function filterModelNames(body: unknown, folder: string, sees: ModelPredicate): unknown {
  if (!Array.isArray(body)) return body;
  return body.filter((name) => typeof name === "string" && seesModel(sees, folder, name));
}

/** `GET /experiment/models/{folder}`: `[{name, pathIndex, modified, created, size}]`. */
export function filterExperimentModels(body: unknown, folder: string, sees: ModelPredicate): unknown {
  if (!Array.isArray(body)) return body;
  return body.filter((entry) => {
    const name = typeof entry === "object" && entry !== null ? (entry as { name?: unknown }).name : undefined;
    return typeof name === "string" && seesModel(sees, folder, name);
  });
}

/** `GET /embeddings`: names without their extension. */
export function filterEmbeddings(body: unknown, sees: ModelPredicate): unknown {
  if (!Array.isArray(body)) return body;
  return body.filter((name) => typeof name === "string" && seesEmbedding(sees, name));
}

/**
 * The option list of a combo input in `/object_info`: `[[options…], {config}]` for classic
 * nodes, `["COMBO", {options: [...]}]` for nodes written against the newer node schema.
 */
function comboOptions(spec: unknown): unknown[] | null {
  if (!Array.isArray(spec)) return null;
  if (Array.isArray(spec[0])) return spec[0] as unknown[];
  const config = spec[1] as { options?: unknown } | undefined;
  if (spec[0] === "COMBO" && typeof config === "object" && config !== null && Array.isArray(config.options)) return config.options;
  return null;
}

function replaceComboOptions(spec: unknown[], options: unknown[]): void {
  if (Array.isArray(spec[0])) spec[0] = options;
  else (spec[1] as { options: unknown[] }).options = options;
}

/**
 * `GET /object_info` and `/object_info/{class}`: the model lists of known loaders keep only
 * visible models. Changes `body` in place (it was just parsed) and returns it.
 */
export function filterObjectInfo(body: unknown, sees: ModelPredicate): unknown {
  if (typeof body !== "object" || body === null) return body;
  for (const [classType, definition] of Object.entries(body as Record<string, unknown>)) {
    const modelInputs = MODEL_INPUTS[classType];
    if (modelInputs === undefined) continue;
    const input = (definition as { input?: Record<string, unknown> } | null)?.input;
    if (typeof input !== "object" || input === null) continue;
    for (const group of [input.required, input.optional]) {
      if (typeof group !== "object" || group === null) continue;
      for (const [inputName, spec] of Object.entries(group as Record<string, unknown>)) {
        const folder = modelInputs[inputName];
        const options = folder === undefined ? null : comboOptions(spec);
        if (folder === undefined || options === null) continue;
        replaceComboOptions(
          spec as unknown[],
          options.filter((option) => typeof option === "string" && seesModel(sees, folder, option)),
        );
      }
    }
  }
  return body;
}

// ---- prompts --------------------------------------------------------------------------

export interface UngrantedModel {
  nodeId: string;
  classType: string;
  input: string;
  folder: string;
  /** The model's name, or null when the input is linked to another node's output. */
  name: string | null;
}

/**
 * `embedding:NAME` as ComfyUI's tokenizer finds it: a word (split at spaces) that starts with
 * the identifier, also inside weight brackets `(embedding:NAME:1.2)`.
 */
const EMBEDDING_REFERENCE = /(?:^|[\s(])embedding:([^\s()]+)/g;

/** The embedding names a text refers to: a trailing weight (`:1.2`) and commas dropped. */
export function embeddingReferences(text: string): string[] {
  const names: string[] = [];
  for (const match of text.matchAll(EMBEDDING_REFERENCE)) {
    const name = match[1]!.replace(/:[-+]?[0-9]*\.?[0-9]+$/, "").replace(/,+$/, "");
    if (name !== "") names.push(name);
  }
  return names;
}

const isLink = (value: unknown): boolean => Array.isArray(value) && value.length === 2 && (typeof value[0] === "string" || typeof value[0] === "number");

/**
 * The first model in a prompt graph (`{id: {class_type, inputs}}`) the caller may not use, or
 * null. A model input fed by a link cannot be checked before it runs: it is accepted only when
 * the whole folder is visible. Other non-string values are left to ComfyUI, which refuses them
 * (not in the list).
 */
export function findUngrantedModel(graph: unknown, sees: ModelPredicate): UngrantedModel | null {
  if (typeof graph !== "object" || graph === null || Array.isArray(graph)) return null;
  for (const [nodeId, node] of Object.entries(graph as Record<string, unknown>)) {
    if (typeof node !== "object" || node === null) continue;
    const classType = (node as { class_type?: unknown }).class_type;
    const inputs = (node as { inputs?: unknown }).inputs;
    if (typeof classType !== "string" || typeof inputs !== "object" || inputs === null) continue;
    const modelInputs = MODEL_INPUTS[classType] ?? {};
    for (const [input, value] of Object.entries(inputs as Record<string, unknown>)) {
      const folder = modelInputs[input];
      if (folder !== undefined) {
        if (typeof value === "string" && !seesModel(sees, folder, value)) return { nodeId, classType, input, folder, name: value };
        if (isLink(value) && !sees(folder, "*")) return { nodeId, classType, input, folder, name: null };
        continue;
      }
      if (typeof value !== "string" || !value.includes("embedding:")) continue;
      for (const name of embeddingReferences(value)) {
        if (!seesEmbedding(sees, name)) return { nodeId, classType, input, folder: "embeddings", name };
      }
    }
  }
  return null;
}

/** The refusal's message: "Model not allowed: folder/name". */
export function describeUngranted(found: UngrantedModel): string {
  if (found.name === null) return `Model not allowed: ${found.folder}/* (input ${found.input} of node ${found.nodeId} is linked; choose the model in the loader itself)`;
  return `Model not allowed: ${found.folder}/${found.name}`;
}
