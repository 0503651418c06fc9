/**
 * A custom-node route family in the style of ComfyUI-Manager, registered through
 * `PromptServer.routes` and therefore mirrored under `/api`. Gateways must deny such unknown
 * routes by default; these let tests prove it.
 */
import { emptyResponse, textResponse } from "./http-responses.ts";
import type { RouteSpec } from "./router.ts";

export const MANAGER_VERSION = "V3.37";

export const MANAGER_ROUTES: RouteSpec[] = [
  { method: "GET", path: "/manager/version", handler: () => textResponse(MANAGER_VERSION) },
  {
    method: "POST",
    path: "/manager/reboot",
    handler: (ctx) => {
      ctx.state.managerReboots++;
      return emptyResponse(200);
    },
  },
];
