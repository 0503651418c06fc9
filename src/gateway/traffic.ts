/**
 * How busy the gateway is right now: requests counted per quarter second. Background work (the
 * NSFW guard's scans) waits while traffic is heavy, so that on a small machine it takes CPU
 * from idle moments rather than from forwarding.
 */
const WINDOW_MS = 250;

export function createTrafficMeter(now: () => number = Date.now) {
  let windowStart = now();
  let current = 0;
  let previous = 0;

  function roll(at: number): void {
    if (at - windowStart < WINDOW_MS) return;
    previous = at - windowStart < 2 * WINDOW_MS ? current : 0;
    current = 0;
    windowStart = at;
  }

  return {
    /** One request arrived (a counter increment; the clock is read once per request). */
    count(): void {
      roll(now());
      current++;
    },
    /** Requests per second over the last full window. */
    rate(): number {
      roll(now());
      return (previous * 1000) / WINDOW_MS;
    },
  };
}

export type TrafficMeter = ReturnType<typeof createTrafficMeter>;
