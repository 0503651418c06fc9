/**
 * A configuration problem that stops start-up (exit code 2). `message` is one line:
 * "<source>: <what is wrong>", where source is a file path, "env NAME", "flag --x" or
 * "command line"; print it as `config error: ${message}`.
 */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  /** Where the bad value came from. */
  readonly source: string;
  /** The dotted key concerned, when there is one. */
  readonly key: string | null;

  constructor(source: string, detail: string, key: string | null = null, options?: ErrorOptions) {
    super(`${source}: ${detail}`, options);
    this.source = source;
    this.key = key;
  }
}

/** Closest candidate by edit distance, if close enough to be a likely typo. */
export function closestMatch(word: string, candidates: Iterable<string>): string | null {
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    // Also compare last segments, so `port` suggests `listen.port`.
    const distance = Math.min(
      editDistance(word, candidate),
      editDistance(word, candidate.split(".").at(-1) ?? candidate) + 1,
    );
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best !== null && bestDistance <= Math.max(2, Math.floor(word.length / 4)) ? best : null;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
