// The stand-in's ComfyApi: how the real front end talks to the server (recorded in
// startup-requests.json): every call through fetchApi goes to `api_base + "/api" + route` with a
// `Comfy-User` header (the user id, "" before one is chosen); the WebSocket is `/ws`, with
// `?clientId=` once a client id is in sessionStorage.

export class UnauthorizedError extends Error {}

export class PromptExecutionError extends Error {
  constructor(response) {
    super("Prompt execution failed");
    this.name = "PromptExecutionError";
    this.response = response;
  }

  toString() {
    let message = "";
    if (typeof this.response?.error === "object" && this.response.error !== null) {
      message += this.response.error.message ?? "";
      if (this.response.error.details) message += `: ${this.response.error.details}`;
    } else if (this.response?.error) {
      message += String(this.response.error);
    }
    for (const [nodeId, nodeError] of Object.entries(this.response?.node_errors ?? {})) {
      message += `\nNode ${nodeId} (${nodeError.class_type}): ${(nodeError.errors ?? []).map((e) => `${e.message}${e.details ? ` (${e.details})` : ""}`).join("; ")}`;
    }
    return message || this.message;
  }
}

const CLIENT_FEATURE_FLAGS = { supports_preview_metadata: true, supports_manager_v4_ui: true };

export class ComfyApi extends EventTarget {
  constructor() {
    super();
    this.api_host = location.host;
    this.api_base = location.pathname.split("/").slice(0, -1).join("/");
    this.initialClientId = sessionStorage.getItem("clientId");
    this.clientId = this.initialClientId ?? undefined;
    this.user = "";
    this.socket = null;
    this.reportedUnknownMessageTypes = new Set();
    this.serverFeatureFlags = {};
    this.authToken = undefined;
    this.apiKey = undefined;
  }

  getClientFeatureFlags() {
    return { ...CLIENT_FEATURE_FLAGS };
  }

  internalURL(route) {
    return `${this.api_base}/internal${route}`;
  }

  apiURL(route) {
    return `${this.api_base}/api${route}`;
  }

  fileURL(route) {
    return `${this.api_base}${route}`;
  }

  /** `window.fetch` is looked up on every call, so a wrapper installed later is used. */
  fetchApi(route, options) {
    options = options ? { ...options } : {};
    if (options.headers instanceof Headers) {
      const headers = new Headers(options.headers);
      headers.set("Comfy-User", this.user);
      options.headers = headers;
    } else {
      options.headers = { ...(options.headers ?? {}), "Comfy-User": this.user };
    }
    return window.fetch(this.apiURL(route), options);
  }

  addEventListener(type, callback, options) {
    super.addEventListener(type, callback, options);
  }

  removeEventListener(type, callback, options) {
    super.removeEventListener(type, callback, options);
  }

  dispatchCustomEvent(type, detail) {
    return super.dispatchEvent(new CustomEvent(type, { detail: detail === undefined ? null : detail }));
  }

  dispatchEvent(event) {
    return super.dispatchEvent(event);
  }

  /** Opens the WebSocket (reconnecting after a drop, as the real client does). */
  init() {
    this.#createSocket(false);
  }

  #closedByUs = false;
  #reconnectTimer = null;

  #createSocket(isReconnect) {
    if (this.socket) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const query = this.clientId ? `?clientId=${this.clientId}` : "";
    const socket = new WebSocket(`${scheme}://${this.api_host}${this.api_base}/ws${query}`);
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    let opened = false;
    socket.addEventListener("open", () => {
      opened = true;
      socket.send(JSON.stringify({ type: "feature_flags", data: this.getClientFeatureFlags() }));
      if (isReconnect) this.dispatchCustomEvent("reconnected");
    });
    socket.addEventListener("error", () => {
      if (!opened) this.dispatchCustomEvent("status", null);
    });
    socket.addEventListener("close", () => {
      this.socket = null;
      if (this.#closedByUs) return;
      this.dispatchCustomEvent("status", null);
      this.dispatchCustomEvent("reconnecting");
      clearTimeout(this.#reconnectTimer);
      this.#reconnectTimer = setTimeout(() => this.#createSocket(true), 300);
    });
    socket.addEventListener("message", (event) => this.#onMessage(event));
  }

  /** Closes the socket for good (the stand-in's logout). */
  closeSocket() {
    this.#closedByUs = true;
    clearTimeout(this.#reconnectTimer);
    this.socket?.close();
  }

  #onMessage(event) {
    if (event.data instanceof ArrayBuffer) {
      const view = new DataView(event.data);
      const eventType = view.getUint32(0);
      if (eventType === 1) {
        const imageType = view.getUint32(4);
        const mime = imageType === 2 ? "image/png" : "image/jpeg";
        this.dispatchCustomEvent("b_preview", new Blob([event.data.slice(8)], { type: mime }));
      } else if (eventType === 3) {
        const nodeIdLength = view.getUint32(4);
        const decoder = new TextDecoder();
        const nodeId = decoder.decode(event.data.slice(8, 8 + nodeIdLength));
        const text = decoder.decode(event.data.slice(8 + nodeIdLength));
        this.dispatchCustomEvent("progress_text", { nodeId, text });
      } else if (eventType === 4) {
        const metadataLength = view.getUint32(4);
        const metadata = JSON.parse(new TextDecoder().decode(event.data.slice(8, 8 + metadataLength)));
        const blob = new Blob([event.data.slice(8 + metadataLength)], { type: metadata.image_type });
        this.dispatchCustomEvent("b_preview_with_metadata", { blob, nodeId: metadata.node_id, displayNodeId: metadata.display_node_id, parentNodeId: metadata.parent_node_id, realNodeId: metadata.real_node_id, promptId: metadata.prompt_id });
        this.dispatchCustomEvent("b_preview", blob);
      }
      return;
    }
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      console.warn("[stand-in] unreadable websocket message", event.data);
      return;
    }
    const { type, data } = message;
    if (type === "status") {
      if (data?.sid) {
        this.clientId = data.sid;
        sessionStorage.setItem("clientId", data.sid);
      }
      this.dispatchCustomEvent("status", data?.status ?? null);
    } else if (type === "feature_flags") {
      this.serverFeatureFlags = data ?? {};
      this.dispatchCustomEvent("feature_flags", data);
    } else {
      this.dispatchCustomEvent(type, data);
    }
  }

  async getExtensions() {
    return (await this.fetchApi("/extensions", { cache: "no-store" })).json();
  }

  async getWorkflowTemplates() {
    const response = await this.fetchApi("/workflow_templates");
    return response.ok ? response.json() : {};
  }

  async getCoreWorkflowTemplates() {
    const response = await window.fetch(this.fileURL("/templates/index.json"), { headers: { Accept: "application/json, text/plain, */*" } });
    return response.ok ? response.json() : [];
  }

  async getEmbeddings() {
    return (await this.fetchApi("/embeddings", { cache: "no-store" })).json();
  }

  async getNodeDefs() {
    return (await this.fetchApi("/object_info", { cache: "no-store" })).json();
  }

  /** `number` -1 queues at the front, a positive number sets the position. */
  async queuePrompt(number, { output, workflow }, options = {}) {
    const body = { client_id: this.clientId ?? "", prompt: output, extra_data: { extra_pnginfo: { workflow } } };
    if (options.partialExecutionTargets) body.partial_execution_targets = options.partialExecutionTargets;
    if (number === -1) body.front = true;
    else if (number !== 0) body.number = number;
    const response = await this.fetchApi("/prompt", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    if (response.status !== 200) {
      let detail;
      try {
        detail = await response.json();
      } catch {
        detail = { error: { message: `${response.status} ${response.statusText}`, details: "" } };
      }
      throw new PromptExecutionError(detail);
    }
    return response.json();
  }

  async getModelFolders() {
    const response = await this.fetchApi("/experiment/models");
    return response.ok ? response.json() : [];
  }

  async getModels(folder) {
    const response = await this.fetchApi(`/experiment/models/${encodeURIComponent(folder)}`);
    return response.ok ? response.json() : [];
  }

  async viewMetadata(folder, model) {
    const response = await this.fetchApi(`/view_metadata/${folder}?filename=${encodeURIComponent(model)}`);
    return response.ok ? response.json() : null;
  }

  async getItems(type) {
    return type === "queue" ? this.getQueue() : this.getHistory();
  }

  async getQueue() {
    try {
      const data = await (await this.fetchApi("/queue")).json();
      return { Running: data.queue_running ?? [], Pending: data.queue_pending ?? [] };
    } catch (error) {
      console.error(error);
      return { Running: [], Pending: [] };
    }
  }

  async getHistory(max_items = 200) {
    try {
      const data = await (await this.fetchApi(`/history?max_items=${max_items}`)).json();
      return { History: Object.entries(data).map(([promptId, entry]) => ({ ...entry, prompt_id: promptId, taskType: "History" })) };
    } catch (error) {
      console.error(error);
      return { History: [] };
    }
  }

  async getSystemStats() {
    return (await this.fetchApi("/system_stats")).json();
  }

  async deleteItem(type, id) {
    await this.fetchApi(`/${type}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ delete: [id] }) });
  }

  async clearItems(type) {
    await this.fetchApi(`/${type}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ clear: true }) });
  }

  async interrupt(runningPromptId) {
    await this.fetchApi("/interrupt", { method: "POST", headers: { "Content-Type": "application/json" }, body: runningPromptId ? JSON.stringify({ prompt_id: runningPromptId }) : undefined });
  }

  async getUserConfig() {
    return (await this.fetchApi("/users")).json();
  }

  createUser(username) {
    return this.fetchApi("/users", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ username }) });
  }

  async getSettings() {
    const response = await this.fetchApi("/settings");
    if (response.status === 401) throw new UnauthorizedError(response.statusText);
    return response.json();
  }

  async getSetting(id) {
    return (await this.fetchApi(`/settings/${encodeURIComponent(id)}`)).json();
  }

  storeSettings(settings) {
    return this.fetchApi("/settings", { method: "POST", body: JSON.stringify(settings) });
  }

  /** Body is the JSON value as a string, so the browser sends text/plain;charset=UTF-8. */
  storeSetting(id, value) {
    return this.fetchApi(`/settings/${encodeURIComponent(id)}`, { method: "POST", body: JSON.stringify(value) });
  }

  getUserData(file, options) {
    return this.fetchApi(`/userdata/${encodeURIComponent(file)}`, options);
  }

  async storeUserData(file, data, options = { overwrite: true, stringify: true, throwOnError: true, full_info: false }) {
    const { overwrite = true, stringify = true, throwOnError = true, full_info = false } = options;
    const response = await this.fetchApi(`/userdata/${encodeURIComponent(file)}?overwrite=${overwrite}&full_info=${full_info}`, {
      method: "POST",
      body: stringify ? JSON.stringify(data) : data,
    });
    if (response.status !== 200 && throwOnError) {
      throw new Error(`Error storing user data file '${file}': ${response.status} ${response.statusText}`);
    }
    return response;
  }

  async deleteUserData(file) {
    const response = await this.fetchApi(`/userdata/${encodeURIComponent(file)}`, { method: "DELETE" });
    if (response.status !== 204) throw new Error(`Error removing user data file '${file}': ${response.status} ${response.statusText}`);
  }

  async moveUserData(source, dest, options = { overwrite: false }) {
    return this.fetchApi(`/userdata/${encodeURIComponent(source)}/move/${encodeURIComponent(dest)}?overwrite=${options.overwrite}`, { method: "POST" });
  }

  async listUserDataFullInfo(dir) {
    const response = await this.fetchApi(`/userdata?dir=${encodeURIComponent(dir)}&recurse=true&split=false&full_info=true`);
    if (response.status === 404) return [];
    if (response.status !== 200) throw new Error(`Error getting user data list '${dir}': ${response.status} ${response.statusText}`);
    return response.json();
  }

  async getLogs() {
    return (await window.fetch(this.internalURL("/logs"))).text();
  }

  async getRawLogs() {
    return (await window.fetch(this.internalURL("/logs/raw"))).json();
  }

  async subscribeLogs(enabled) {
    await window.fetch(this.internalURL("/logs/subscribe"), { method: "PATCH", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ enabled, clientId: this.clientId }) });
  }

  async getFolderPaths() {
    return (await window.fetch(this.internalURL("/folder_paths"))).json();
  }

  async freeMemory(options) {
    return this.fetchApi("/free", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ unload_models: true, free_memory: !!options.freeExecutionCache }) });
  }

  /** i18n goes through a different client in the real front end: no Comfy-User header. */
  async getCustomNodesI18n() {
    const response = await window.fetch(this.apiURL("/i18n"), { headers: { Accept: "application/json, text/plain, */*" } });
    return response.ok ? response.json() : {};
  }

  serverSupportsFeature(name) {
    return this.serverFeatureFlags[name] === true;
  }

  getServerFeature(name, defaultValue) {
    return this.serverFeatureFlags[name] ?? defaultValue;
  }

  getServerFeatures() {
    return { ...this.serverFeatureFlags };
  }
}

export const api = new ComfyApi();
