/**
 * The classic script the gateway puts first in ComfyUI's <head>. It runs before the page's own
 * modules and before any extension: it publishes who is signed in (read from the JSON the
 * gateway placed next to it, no request needed), makes ComfyUI open as the gateway's ComfyUI
 * user (no user picker), and creates the Extension Tabs registry so that extensions loaded in
 * any order can register admin tabs.
 */
import { installAdminTabs } from "./admin/extension-tabs.ts";
import { readPageState } from "./comfy/page-state.ts";

const state = readPageState();
if (state !== null) {
  (window as unknown as { __MSS_LOGIN__: unknown }).__MSS_LOGIN__ = state;
  if (state.comfyUser) {
    try {
      // The front end in multi-user mode shows its user picker without these; the gateway sets
      // the ComfyUI user on every request anyway.
      localStorage.setItem("Comfy.userId", state.comfyUser);
      localStorage.setItem("Comfy.userName", state.username);
    } catch {
      // Storage disabled: the picker shows, and only the caller's own user is listed.
    }
  }
}
installAdminTabs();
