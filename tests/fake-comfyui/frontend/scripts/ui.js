// Shim for extensions written for the real front end: `import { $el } from "../../scripts/ui.js"`.
export const ComfyDialog = window.comfyAPI.ui.ComfyDialog;
export const $el = window.comfyAPI.ui.$el;
export const ComfyUI = window.comfyAPI.ui.ComfyUI;
