/**
 * Node and model information, the page and the extension list (spec §2.3, §2.6).
 */
import { emptyResponse, jsonResponse } from "./http-responses.ts";
import { nodeClassNames, nodeDefinition } from "./node-registry.ts";
import type { RequestContext } from "./request-context.ts";
import type { RouteSpec } from "./router.ts";
import { loadImageOptions } from "./input-files.ts";
import { experimentModels, FOLDER_PATHS, systemStats } from "./server-facts.ts";
import type { WebRoot } from "./web-root.ts";

function objectInfo(ctx: RequestContext): Response {
  const options = loadImageOptions(ctx.state.files);
  return jsonResponse(Object.fromEntries(nodeClassNames().map((name) => [name, nodeDefinition(name, options, ctx.state.options.models)])));
}

function objectInfoOne(ctx: RequestContext): Response {
  const name = ctx.params.node_class as string;
  const definition = nodeDefinition(name, loadImageOptions(ctx.state.files), ctx.state.options.models);
  return jsonResponse(definition === undefined ? {} : { [name]: definition });
}

/** The installed files of one folder, sorted (`models` option; none by default, su-010). */
function modelFilesIn(ctx: RequestContext, folder: string): string[] {
  return [...(ctx.state.options.models[folder] ?? [])].sort();
}

function models(): Response {
  return jsonResponse(Object.keys(FOLDER_PATHS));
}

/** The folder's installed files; unknown folders are 404 (su-011). */
function modelsInFolder(ctx: RequestContext): Response {
  const folder = ctx.params.folder as string;
  return Object.hasOwn(FOLDER_PATHS, folder) ? jsonResponse(modelFilesIn(ctx, folder)) : emptyResponse(404);
}

/** `[{name, pathIndex, modified, created, size}]`, with fixed times and sizes. */
function experimentModelsInFolder(ctx: RequestContext): Response {
  const folder = ctx.params.folder as string;
  if (!experimentModels().some((entry) => entry.name === folder)) return emptyResponse(404);
  return jsonResponse(modelFilesIn(ctx, folder).map((name) => ({ name, pathIndex: 0, modified: 1764504000, created: 1764504000, size: 1024 })));
}

/** Embedding names without their extension, as ComfyUI lists them. */
function embeddings(ctx: RequestContext): Response {
  return jsonResponse(modelFilesIn(ctx, "embeddings").map((name) => name.replace(/\.[^./]+$/, "")));
}

export function infoRoutes(webRoot: WebRoot): RouteSpec[] {
  const routes: RouteSpec[] = [
    { method: "GET", path: "/", handler: (ctx) => webRoot.index(ctx.req, ctx.state.options.profile) },
    { method: "GET", path: "/embeddings", handler: embeddings },
    { method: "GET", path: "/models", handler: models },
    { method: "GET", path: "/models/{folder}", handler: modelsInFolder },
    { method: "GET", path: "/extensions", handler: () => jsonResponse(webRoot.extensionUrls) },
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
