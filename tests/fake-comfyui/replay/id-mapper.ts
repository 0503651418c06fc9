/**
 * Values the real server generated at random (prompt ids, user-id suffixes, PreviewImage temp
 * prefixes) differ in the fake. The mapper learns "recorded → fake" pairs while comparing
 * responses and rewrites later requests with them, so a recorded `GET /history/<id>` asks the
 * fake about the fake's id.
 */

const VOLATILE_TOKEN = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|ComfyUI_temp_[a-z]{5}/g;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export class IdMapper {
  private readonly recordedToFake = new Map<string, string>();

  /** Recorded text with every known token replaced by its fake counterpart. */
  apply(text: string): string {
    return text.replace(VOLATILE_TOKEN, (token) => this.recordedToFake.get(token) ?? token);
  }

  applyDeep(value: unknown): unknown {
    if (typeof value === "string") return this.apply(value);
    if (Array.isArray(value)) return value.map((item) => this.applyDeep(item));
    if (value !== null && typeof value === "object") {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [this.apply(k), this.applyDeep(v)]));
    }
    return value;
  }

  /**
   * Whether `actual` is `expected` up to volatile tokens. Unknown tokens are learned; known
   * ones must map to exactly the value found.
   */
  matchString(expected: string, actual: string): boolean {
    if (this.apply(expected) === actual) return true;
    const tokens = expected.match(VOLATILE_TOKEN) ?? [];
    if (tokens.length === 0) return false;
    const literals = expected.split(VOLATILE_TOKEN).map(escapeRegExp);
    const pattern = new RegExp(
      "^" + literals.map((literal, i) => (i < tokens.length ? `${literal}(${VOLATILE_TOKEN.source})` : literal)).join("") + "$",
    );
    const match = pattern.exec(actual);
    if (match === null) return false;
    const learned: [string, string][] = [];
    for (let i = 0; i < tokens.length; i++) {
      const recorded = tokens[i] as string;
      const fake = match[i + 1] as string;
      const known = this.recordedToFake.get(recorded);
      if (known !== undefined && known !== fake) return false;
      learned.push([recorded, fake]);
    }
    for (const [recorded, fake] of learned) this.recordedToFake.set(recorded, fake);
    return true;
  }

  knows(recorded: string): string | undefined {
    return this.recordedToFake.get(recorded);
  }
}
