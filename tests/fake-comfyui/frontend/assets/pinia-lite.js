// A small stand-in for Vue reactivity plus Pinia, enough for extensions that reach the stores
// through `app.extensionManager._p._s.get(id)`: stores are plain objects with Pinia's `$`
// members, state is wrapped in proxies that report changes, and views re-render on a change.

const rawOf = new WeakMap(); // proxy -> target
const proxyOf = new WeakMap(); // target -> proxy
const changeListeners = new Set();
let changeScheduled = false;

/** Calls `listener` (batched, once per microtask) after any reactive state changed. */
export function onStateChange(listener) {
  changeListeners.add(listener);
  return () => changeListeners.delete(listener);
}

export function notifyChange() {
  if (changeScheduled) return;
  changeScheduled = true;
  queueMicrotask(() => {
    changeScheduled = false;
    for (const listener of [...changeListeners]) {
      try {
        listener();
      } catch (error) {
        console.error("[stand-in] view update failed", error);
      }
    }
  });
}

function isPlainData(value) {
  if (typeof value !== "object" || value === null) return false;
  if (typeof Node !== "undefined" && value instanceof Node) return false;
  if (value instanceof Map || value instanceof Set || value instanceof WeakMap || value instanceof Promise || value instanceof Date) return false;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return false;
  if (value.__skipReactive) return false;
  return true;
}

export function toRaw(value) {
  return (typeof value === "object" && value !== null && rawOf.get(value)) || value;
}

/** Marks an object so that it is never wrapped (class instances with identity that matters). */
export function markRaw(value) {
  if (typeof value === "object" && value !== null) Object.defineProperty(value, "__skipReactive", { value: true, enumerable: false });
  return value;
}

const SEARCH_METHODS = new Set(["includes", "indexOf", "lastIndexOf"]);

/** A deep proxy: reads wrap nested objects, writes and deletes schedule a view update. */
export function reactive(target) {
  if (!isPlainData(target)) return target;
  if (rawOf.has(target)) return target;
  const existing = proxyOf.get(target);
  if (existing) return existing;
  const proxy = new Proxy(target, {
    get(t, key, receiver) {
      if (Array.isArray(t) && SEARCH_METHODS.has(key)) {
        return (...args) => {
          const found = Array.prototype[key].apply(receiver, args);
          return found === false || found === -1 ? Array.prototype[key].apply(t, args.map(toRaw)) : found;
        };
      }
      const value = Reflect.get(t, key, receiver);
      return isPlainData(value) ? reactive(value) : value;
    },
    set(t, key, value, receiver) {
      const raw = toRaw(value);
      const had = Object.prototype.hasOwnProperty.call(t, key);
      const old = t[key];
      const ok = Reflect.set(t, key, raw, receiver);
      if (!had || !Object.is(old, raw)) notifyChange();
      return ok;
    },
    deleteProperty(t, key) {
      const had = Object.prototype.hasOwnProperty.call(t, key);
      const ok = Reflect.deleteProperty(t, key);
      if (had) notifyChange();
      return ok;
    },
  });
  proxyOf.set(target, proxy);
  rawOf.set(proxy, target);
  return proxy;
}

/** A Pinia instance: `_s` is the Map of every store by id, like the real one. */
export function createPinia() {
  return { _s: new Map(), _a: null, state: {} };
}

let activePinia = null;
export function setActivePinia(pinia) {
  activePinia = pinia;
}

/**
 * `defineStore(id, setup)` returns `useStore()`. The setup function returns the store's
 * members; getters stay getters. Every store gets Pinia's `$id`, `_p`, `$onAction`, `$patch`,
 * `$reset`, `$subscribe` and `$dispose`, in that order before its own keys.
 */
export function defineStore(id, setup) {
  return function useStore() {
    const pinia = activePinia;
    if (!pinia) throw new Error(`[stand-in] no active pinia when using store "${id}"`);
    const existing = pinia._s.get(id);
    if (existing) return existing;
    const actionListeners = new Set();
    const subscribers = new Set();
    const store = {};
    Object.defineProperty(store, "_p", { value: pinia, enumerable: true, writable: true, configurable: true });
    store.$id = id;
    store.$onAction = (callback) => {
      actionListeners.add(callback);
      return () => actionListeners.delete(callback);
    };
    store.$patch = (partial) => {
      if (typeof partial === "function") partial(store);
      else Object.assign(store, partial);
      for (const subscriber of subscribers) subscriber({ storeId: id, type: "patch object" }, store);
      notifyChange();
    };
    store.$reset = () => {
      throw new Error(`Store "${id}" is built using the setup syntax and does not implement $reset().`);
    };
    store.$subscribe = (callback) => {
      const wrapped = () => callback({ storeId: id, type: "direct" }, store);
      subscribers.add(callback);
      const off = onStateChange(wrapped);
      return () => {
        subscribers.delete(callback);
        off();
      };
    };
    store.$dispose = () => {
      actionListeners.clear();
      subscribers.clear();
      pinia._s.delete(id);
    };
    pinia._s.set(id, store);
    const members = setup(store);
    for (const [key, descriptor] of Object.entries(Object.getOwnPropertyDescriptors(members))) {
      if (typeof descriptor.value === "function") {
        const action = descriptor.value;
        descriptor.value = function (...args) {
          if (actionListeners.size === 0) return action.apply(this, args);
          const after = [];
          const onError = [];
          for (const listener of actionListeners) {
            listener({ name: key, store, args, after: (cb) => after.push(cb), onError: (cb) => onError.push(cb) });
          }
          try {
            const result = action.apply(this, args);
            if (result instanceof Promise) {
              return result.then(
                (value) => {
                  after.forEach((cb) => cb(value));
                  return value;
                },
                (error) => {
                  onError.forEach((cb) => cb(error));
                  throw error;
                },
              );
            }
            after.forEach((cb) => cb(result));
            return result;
          } catch (error) {
            onError.forEach((cb) => cb(error));
            throw error;
          }
        };
      }
      descriptor.enumerable = true;
      descriptor.configurable = true;
      Object.defineProperty(store, key, descriptor);
    }
    return store;
  };
}
