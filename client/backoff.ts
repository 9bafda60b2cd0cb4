/**
 * Reconnection delays: exponential backoff with jitter.
 * @module
 */

/** How the client retries after losing its connection. */
export interface ReconnectOptions {
  /** Delay before the first retry, in milliseconds. Default: `500`. */
  initialDelay?: number;
  /** Upper bound of every delay, in milliseconds. Default: `10000`. */
  maxDelay?: number;
  /** Growth of the delay per failed attempt (`>= 1`). Default: `2`. */
  factor?: number;
  /**
   * Share of each delay that is random, from `0` (none) to `1`: a delay `d` becomes a value in
   * `[d * (1 - jitter), d]`, so clients dropped together do not all come back at the same moment. Default: `0.5`.
   */
  jitter?: number;
  /** Retries in a row before giving up (the client then closes). Default: `Infinity`. */
  maxAttempts?: number;
}

/** Reconnect options with every default filled in. */
export type ResolvedReconnectOptions = Required<ReconnectOptions>;

/**
 * The delay before retry number `attempt` (1 for the first retry):
 * `min(maxDelay, initialDelay * factor^(attempt - 1))`, minus up to `jitter` of it at random.
 * `random` returns a number in `[0, 1)`, like `Math.random`.
 */
export function backoffDelay(attempt: number, options: ResolvedReconnectOptions, random: () => number): number {
  const capped = Math.min(options.maxDelay, options.initialDelay * options.factor ** (attempt - 1));
  return Math.round(capped * (1 - options.jitter * random()));
}
