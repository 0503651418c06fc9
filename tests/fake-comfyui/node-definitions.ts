/**
 * Node definitions served by `/object_info`. The first seven are the real 0.3.64 definitions as
 * recorded (fixtures su-015 … su-021); `FakeSampler` is the fake's own slow node with progress
 * and previews (spec §10.3). LoadImage's option list is filled in at request time from `input/`.
 */
import type { JsonValue } from "./py-json.ts";

export type NodeDefinition = { [key: string]: JsonValue };

export const RECORDED_NODE_DEFINITIONS: Record<string, NodeDefinition> = {
  "EmptyImage": {
    "input": {
      "required": {
        "width": [
          "INT",
          {
            "default": 512,
            "min": 1,
            "max": 16384,
            "step": 1
          }
        ],
        "height": [
          "INT",
          {
            "default": 512,
            "min": 1,
            "max": 16384,
            "step": 1
          }
        ],
        "batch_size": [
          "INT",
          {
            "default": 1,
            "min": 1,
            "max": 4096
          }
        ],
        "color": [
          "INT",
          {
            "default": 0,
            "min": 0,
            "max": 16777215,
            "step": 1,
            "display": "color"
          }
        ]
      }
    },
    "input_order": {
      "required": [
        "width",
        "height",
        "batch_size",
        "color"
      ]
    },
    "output": [
      "IMAGE"
    ],
    "output_is_list": [
      false
    ],
    "output_name": [
      "IMAGE"
    ],
    "name": "EmptyImage",
    "display_name": "EmptyImage",
    "description": "",
    "python_module": "nodes",
    "category": "image",
    "output_node": false
  },
  "SaveImage": {
    "input": {
      "required": {
        "images": [
          "IMAGE",
          {
            "tooltip": "The images to save."
          }
        ],
        "filename_prefix": [
          "STRING",
          {
            "default": "ComfyUI",
            "tooltip": "The prefix for the file to save. This may include formatting information such as %date:yyyy-MM-dd% or %Empty Latent Image.width% to include values from nodes."
          }
        ]
      },
      "hidden": {
        "prompt": "PROMPT",
        "extra_pnginfo": "EXTRA_PNGINFO"
      }
    },
    "input_order": {
      "required": [
        "images",
        "filename_prefix"
      ],
      "hidden": [
        "prompt",
        "extra_pnginfo"
      ]
    },
    "output": [],
    "output_is_list": [],
    "output_name": [],
    "name": "SaveImage",
    "display_name": "Save Image",
    "description": "Saves the input images to your ComfyUI output directory.",
    "python_module": "nodes",
    "category": "image",
    "output_node": true
  },
  "PreviewImage": {
    "input": {
      "required": {
        "images": [
          "IMAGE"
        ]
      },
      "hidden": {
        "prompt": "PROMPT",
        "extra_pnginfo": "EXTRA_PNGINFO"
      }
    },
    "input_order": {
      "required": [
        "images"
      ],
      "hidden": [
        "prompt",
        "extra_pnginfo"
      ]
    },
    "output": [],
    "output_is_list": [],
    "output_name": [],
    "name": "PreviewImage",
    "display_name": "Preview Image",
    "description": "Saves the input images to your ComfyUI output directory.",
    "python_module": "nodes",
    "category": "image",
    "output_node": true
  },
  "LoadImage": {
    "input": {
      "required": {
        "image": [
          [
            "example.png"
          ],
          {
            "image_upload": true
          }
        ]
      }
    },
    "input_order": {
      "required": [
        "image"
      ]
    },
    "output": [
      "IMAGE",
      "MASK"
    ],
    "output_is_list": [
      false,
      false
    ],
    "output_name": [
      "IMAGE",
      "MASK"
    ],
    "name": "LoadImage",
    "display_name": "Load Image",
    "description": "",
    "python_module": "nodes",
    "category": "image",
    "output_node": false
  },
  "ImageBlur": {
    "input": {
      "required": {
        "image": [
          "IMAGE",
          {}
        ],
        "blur_radius": [
          "INT",
          {
            "default": 1,
            "min": 1,
            "max": 31,
            "step": 1
          }
        ],
        "sigma": [
          "FLOAT",
          {
            "default": 1.0,
            "min": 0.1,
            "max": 10.0,
            "step": 0.1
          }
        ]
      }
    },
    "input_order": {
      "required": [
        "image",
        "blur_radius",
        "sigma"
      ]
    },
    "output": [
      "IMAGE"
    ],
    "output_is_list": [
      false
    ],
    "output_name": [
      "IMAGE"
    ],
    "output_tooltips": [
      null
    ],
    "name": "ImageBlur",
    "display_name": null,
    "description": "",
    "python_module": "comfy_extras.nodes_post_processing",
    "category": "image/postprocessing",
    "output_node": false,
    "deprecated": false,
    "experimental": false,
    "api_node": false
  },
  "SaveImageWebsocket": {
    "input": {
      "required": {
        "images": [
          "IMAGE"
        ]
      }
    },
    "input_order": {
      "required": [
        "images"
      ]
    },
    "output": [],
    "output_is_list": [],
    "output_name": [],
    "name": "SaveImageWebsocket",
    "display_name": "SaveImageWebsocket",
    "description": "",
    "python_module": "custom_nodes.websocket_image_save",
    "category": "api/image",
    "output_node": true
  },
  "GetImageSize": {
    "input": {
      "required": {
        "image": [
          "IMAGE"
        ]
      },
      "hidden": {
        "unique_id": "UNIQUE_ID"
      }
    },
    "input_order": {
      "required": [
        "image"
      ],
      "hidden": [
        "unique_id"
      ]
    },
    "output": [
      "INT",
      "INT",
      "INT"
    ],
    "output_is_list": [
      false,
      false,
      false
    ],
    "output_name": [
      "width",
      "height",
      "batch_size"
    ],
    "name": "GetImageSize",
    "display_name": "Get Image Size",
    "description": "Returns width and height of the image, and passes it through unchanged.",
    "python_module": "comfy_extras.nodes_images",
    "category": "image",
    "output_node": false
  }
};

/**
 * The fake's sampler: `steps` progress ticks, each with a `progress` message and a binary
 * preview, then an IMAGE output. `fail_at_step` (1-based, 0 = never) makes it raise, for tests of
 * `execution_error`.
 */
export const FAKE_SAMPLER_DEFINITION: NodeDefinition = {
  input: {
    required: {
      steps: ["INT", { default: 4, min: 1, max: 10000, step: 1 }],
      seed: ["INT", { default: 0, min: 0, max: 18446744073709552000 }],
      width: ["INT", { default: 64, min: 1, max: 16384, step: 1 }],
      height: ["INT", { default: 64, min: 1, max: 16384, step: 1 }],
    },
    optional: {
      image: ["IMAGE"],
      color: ["INT", { default: 8421504, min: 0, max: 16777215, step: 1, display: "color" }],
      fail_at_step: ["INT", { default: 0, min: 0, max: 10000, step: 1 }],
    },
  },
  input_order: { required: ["steps", "seed", "width", "height"], optional: ["image", "color", "fail_at_step"] },
  output: ["IMAGE"],
  output_is_list: [false],
  output_name: ["IMAGE"],
  name: "FakeSampler",
  display_name: "Fake Sampler",
  description: "Test node of the fake ComfyUI: reports progress and sends previews.",
  python_module: "custom_nodes.fake_sampler",
  category: "sampling",
  output_node: false,
};

/**
 * Two core loaders of ComfyUI 0.3.64 (`nodes.py`), as its `/object_info` shows them, for tests of
 * model visibility. Their option lists are filled in at request time from the installed models
 * (`models` option; empty by default). Never executed: no fake node consumes MODEL or CLIP.
 */
export const MODEL_LOADER_DEFINITIONS: Record<string, NodeDefinition> = {
  CheckpointLoaderSimple: {
    input: {
      required: {
        ckpt_name: [[], { tooltip: "The name of the checkpoint (model) to load." }],
      },
    },
    input_order: { required: ["ckpt_name"] },
    output: ["MODEL", "CLIP", "VAE"],
    output_is_list: [false, false, false],
    output_name: ["MODEL", "CLIP", "VAE"],
    name: "CheckpointLoaderSimple",
    display_name: "Load Checkpoint",
    description: "Loads a diffusion model checkpoint, diffusion models are used to denoise latents.",
    python_module: "nodes",
    category: "loaders",
    output_node: false,
    output_tooltips: [
      "The model used for denoising latents.",
      "The CLIP model used for encoding text prompts.",
      "The VAE model used for encoding and decoding images to and from latent space.",
    ],
  },
  LoraLoader: {
    input: {
      required: {
        model: ["MODEL", { tooltip: "The diffusion model the LoRA will be applied to." }],
        clip: ["CLIP", { tooltip: "The CLIP model the LoRA will be applied to." }],
        lora_name: [[], { tooltip: "The name of the LoRA." }],
        strength_model: ["FLOAT", { default: 1, min: -100, max: 100, step: 0.01, tooltip: "How strongly to modify the diffusion model. This value can be negative." }],
        strength_clip: ["FLOAT", { default: 1, min: -100, max: 100, step: 0.01, tooltip: "How strongly to modify the CLIP model. This value can be negative." }],
      },
    },
    input_order: { required: ["model", "clip", "lora_name", "strength_model", "strength_clip"] },
    output: ["MODEL", "CLIP"],
    output_is_list: [false, false],
    output_name: ["MODEL", "CLIP"],
    name: "LoraLoader",
    display_name: "Load LoRA",
    description:
      "LoRAs are used to modify diffusion and CLIP models, altering the way in which latents are denoised such as applying styles. Multiple LoRA nodes can be linked together.",
    python_module: "nodes",
    category: "loaders",
    output_node: false,
    output_tooltips: ["The modified diffusion model.", "The modified CLIP model."],
  },
};

/** Which loader input lists which model folder. */
export const MODEL_LOADER_FOLDERS: Record<string, { input: string; folder: string }> = {
  CheckpointLoaderSimple: { input: "ckpt_name", folder: "checkpoints" },
  LoraLoader: { input: "lora_name", folder: "loras" },
};
