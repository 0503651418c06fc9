// Key combos and keybindings as the recording shows them: a combo prints as "Ctrl + s"
// (Ctrl, Alt, Shift, then the key), a keybinding has `combo`, `commandId` and an optional
// `targetElementId` ("graph-canvas": only while the canvas has focus).

export class KeyComboImpl {
  constructor({ key, ctrl = false, alt = false, shift = false }) {
    this.key = key;
    this.ctrl = ctrl;
    this.alt = alt;
    this.shift = shift;
  }

  static fromEvent(event) {
    return new KeyComboImpl({ key: event.key, ctrl: event.ctrlKey || event.metaKey, alt: event.altKey, shift: event.shiftKey });
  }

  equals(other) {
    return other instanceof KeyComboImpl && this.key.toUpperCase() === other.key.toUpperCase() && this.ctrl === other.ctrl && this.alt === other.alt && this.shift === other.shift;
  }

  serialize() {
    return `${this.key.toUpperCase()}:${this.ctrl}:${this.alt}:${this.shift}`;
  }

  toString() {
    return this.getKeySequences().join(" + ");
  }

  get hasModifier() {
    return this.ctrl || this.alt || this.shift;
  }

  get isModifier() {
    return ["Control", "Meta", "Alt", "Shift"].includes(this.key);
  }

  getKeySequences() {
    const sequence = [];
    if (this.ctrl) sequence.push("Ctrl");
    if (this.alt) sequence.push("Alt");
    if (this.shift) sequence.push("Shift");
    sequence.push(this.key);
    return sequence;
  }
}

export class KeybindingImpl {
  constructor({ commandId, combo, targetElementId }) {
    this.commandId = commandId;
    this.combo = combo instanceof KeyComboImpl ? combo : new KeyComboImpl(combo);
    this.targetElementId = targetElementId;
  }

  equals(other) {
    return other instanceof KeybindingImpl && this.commandId === other.commandId && this.combo.equals(other.combo) && this.targetElementId === other.targetElementId;
  }
}

/** Elements where plain (unmodified) keys are typing, not shortcuts. */
export function isTypingTarget(target) {
  if (!(target instanceof Element)) return false;
  if (target.isContentEditable) return true;
  const tag = target.tagName;
  if (tag === "TEXTAREA" || tag === "SELECT") return true;
  if (tag !== "INPUT") return false;
  return !["checkbox", "radio", "button", "submit", "range", "color", "file"].includes(target.type);
}

/**
 * The document's keydown listener: maps the event to a combo, looks the keybinding up in the
 * store and runs its command; the browser's default is prevented only when a binding matched.
 */
export function installKeyListener(keybindingStore, commandStore) {
  const listener = (event) => {
    if (event.defaultPrevented) return;
    const combo = KeyComboImpl.fromEvent(event);
    if (combo.isModifier) return;
    const target = event.composedPath()[0] ?? event.target;
    if (isTypingTarget(target) && !combo.ctrl && !combo.alt) return;
    const keybinding = keybindingStore.getKeybinding(combo);
    if (!keybinding) return;
    if (keybinding.targetElementId && !(target instanceof Element && target.id === keybinding.targetElementId)) return;
    event.preventDefault();
    void commandStore.execute(keybinding.commandId).catch((error) => console.error(error));
  };
  document.addEventListener("keydown", listener);
  return () => document.removeEventListener("keydown", listener);
}
