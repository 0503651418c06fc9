/**
 * Node and model information, the page and the extension list (spec §2.3, §2.6).
 */
import { emptyResponse, jsonResponse } from "./http-responses.ts";
import { nodeClassNames, nodeDefinition } from "./node-registry.ts";
import type { RequestContext } from "./request-context.ts";
import type { RouteSpec } from "./router.ts";
import { loadImageOptions } from "./input-files.ts";
import { experimentModels, FOLDER_PATHS, systemStats } from "./server-facts.ts";
import { EXTENSION_URLS, type WebRoot } from "./web-root.ts";

function objectInfo(ctx: RequestContext): Response {
  const options = loadImageOptions(ctx.state.files);
  return jsonResponse(Object.fromEntries(nodeClassNames().map((name) => [name, nodeDefinition(name, options)])));
}

function objectInfoOne(ctx: RequestContext): Response {
  const name = ctx.params.node_class as string;
  const definition = nodeDefinition(name, loadImageOptions(ctx.state.files));
  return jsonResponse(definition === undefined ? {} : { [name]: definition });
}

function models(): Response {
  return jsonResponse(Object.keys(FOLDER_PATHS));
}

/** Every folder is empty: no models are installed (su-010); unknown folders are 404 (su-011). */
function modelsInFolder(ctx: RequestContext): Response {
  return Object.hasOwn(FOLDER_PATHS, ctx.params.folder as string) ? jsonResponse([]) : emptyResponse(404);
}

function experimentModelsInFolder(ctx: RequestContext): Response {
  const known = experimentModels().some((entry) => entry.name === ctx.params.folder);
  return known ? jsonResponse([]) : emptyResponse(404);
}

export function infoRoutes(webRoot: WebRoot): RouteSpec[] {
  const routes: RouteSpec[] = [
    { method: "GET", path: "/", handler: (ctx) => webRoot.index(ctx.req, ctx.state.options.profile) },
    { method: "GET", path: "/embeddings", handler: () => jsonResponse([]) },
    { method: "GET", path: "/models", handler: models },
    { method: "GET", path: "/models/{folder}", handler: modelsInFolder },
    { method: "GET", path: "/extensions", handler: () => jsonResponse(EXTENSION_URLS) },
    { method: "GET", path: "/system_stats", handler: (ctx) => jsonResponse(systemStats(ctx.state.options, ctx.server.port ?? 0)) },
    { method: "GET", path: "/features", handler: (ctx) => jsonResponse(ctx.state.serverFeatures()) },
    { method: "GET", path: "/object_info", handler: objectInfo },
    { method: "GET", path: "/object_info/{node_class}", handler: objectInfoOne },
    { method: "GET", path: "/experiment/models", handler: () => jsonResponse(experimentModels()) },
    { method: "GET", path: "/experiment/models/{folder}", handler: experimentModelsInFolder },
    { method: "GET", path: "/workflow_templates", handler: () => jsonResponse({}) },
    { method: "GET", path: "/i18n", handler: () => jsonResponse({}) },
  ];
  return routes;
}

/** Routes that only the v0.38 profile has. */
export const NEWER_INFO_ROUTES: RouteSpec[] = [
  { method: "GET", path: "/node_replacements", handler: () => jsonResponse({}) },
  { method: "GET", path: "/global_subgraphs", handler: () => jsonResponse({}) },
];
