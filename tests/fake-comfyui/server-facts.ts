/**
 * Static facts about the emulated installation, as the recorded server reported them
 * (su-007, su-009, su-012, su-182): model folders, their absolute paths (which the real API
 * leaks) and the system stats.
 */
import type { ResolvedOptions } from "./options.ts";
import { COMFY_ROOT } from "./virtual-paths.ts";

const models = (name: string): string => `${COMFY_ROOT}/models/${name}`;
const outputs = (name: string): string => `${COMFY_ROOT}/output/${name}`;

/** `/internal/folder_paths`; `/models` lists the keys in this order. */
export const FOLDER_PATHS: Record<string, string[]> = {
  checkpoints: [models("checkpoints"), outputs("checkpoints")],
  configs: [models("configs")],
  loras: [models("loras"), outputs("loras")],
  vae: [models("vae"), outputs("vae")],
  text_encoders: [models("text_encoders"), models("clip"), outputs("clip")],
  diffusion_models: [models("unet"), models("diffusion_models"), outputs("diffusion_models")],
  clip_vision: [models("clip_vision")],
  style_models: [models("style_models")],
  embeddings: [models("embeddings")],
  diffusers: [models("diffusers")],
  vae_approx: [models("vae_approx")],
  controlnet: [models("controlnet"), models("t2i_adapter")],
  gligen: [models("gligen")],
  upscale_models: [models("upscale_models")],
  custom_nodes: [`${COMFY_ROOT}/custom_nodes`],
  hypernetworks: [models("hypernetworks")],
  photomaker: [models("photomaker")],
  classifiers: [models("classifiers")],
  model_patches: [models("model_patches")],
  audio_encoders: [models("audio_encoders")],
};

/** `/experiment/models` leaves out the folders that hold no models. */
const NOT_MODEL_FOLDERS = new Set(["configs", "custom_nodes"]);

export function experimentModels(): { name: string; folders: string[] }[] {
  return Object.entries(FOLDER_PATHS)
    .filter(([name]) => !NOT_MODEL_FOLDERS.has(name))
    .map(([name, folders]) => ({ name, folders }));
}

const RAM_TOTAL = 25276502016;
/** Fixed, so that two fakes with the same options answer alike. */
const RAM_FREE = 23542505472;

export function systemStats(options: ResolvedOptions, port: number): Record<string, unknown> {
  const argv = ["main.py", "--cpu", "--listen", options.host, "--port", String(port), "--front-end-root", "/srv/comfy-frontend", "--disable-auto-launch"];
  if (options.multiUser) argv.push("--multi-user");
  const free = RAM_FREE;
  const system: Record<string, unknown> = {
    os: "posix",
    ram_total: RAM_TOTAL,
    ram_free: free,
    comfyui_version: options.profile === "v0.38" ? "0.38.1" : "0.3.64",
    required_frontend_version: "1.27.10",
    installed_templates_version: null,
    required_templates_version: "0.1.95",
    python_version: "3.13.5 (main, Aug 10 2026, 12:06:59) [GCC 14.2.0]",
    pytorch_version: "2.6.0+debian",
    embedded_python: false,
    argv,
  };
  if (options.profile === "v0.38") {
    system.comfy_package_versions = {};
    system.deploy_environment = "local-git";
  }
  return {
    system,
    devices: [
      { name: "cpu", type: "cpu", index: null, vram_total: RAM_TOTAL, vram_free: free, torch_vram_total: RAM_TOTAL, torch_vram_free: free },
    ],
  };
}
