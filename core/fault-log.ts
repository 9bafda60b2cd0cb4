/**
 * Server faults nobody subscribed to (no `onError`): logged once per episode, so that a broker that is
 * down or a handler that fails on every message prints one line, not one per occurrence, and a
 * recovery is said too.
 * @module
 */

/** Where wsmount logs: `console` by default, Fastify's logger on Fastify, or the `logger` option. */
export interface Logger {
  error(message: string, error?: unknown): void;
  warn(message: string): void;
}

/** A logger that is off: for applications that route every fault through `onError` or the diagnostics channels. */
export const silentLogger: Logger = Object.freeze({ error() {}, warn() {} });

export const consoleLogger: Logger = Object.freeze({
  error: (message: string, error?: unknown) => (error === undefined ? console.error(message) : console.error(message, error)),
  warn: (message: string) => console.warn(message),
});

/** An episode ends after this long without a fault of its kind (or when `recovered` says so). */
export const EPISODE_QUIET_MS = 60_000;

interface Episode {
  /** When the last fault of this kind happened. */
  last: number;
  /** Faults since the episode's first, which was logged. */
  suppressed: number;
}

/**
 * The episodes of one endpoint, by kind (an error code). Bounded: one entry per kind, and the kinds are
 * wsmount's error codes.
 */
export class FaultLog {
  readonly #logger: Logger;
  readonly #episodes = new Map<string, Episode>();

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Logs `error` unless an episode of `kind` is under way; then only counts it. */
  fault(kind: string, error: unknown, now = Date.now()): void {
    const episode = this.#episodes.get(kind);
    if (episode !== undefined && now - episode.last < EPISODE_QUIET_MS) {
      episode.last = now;
      episode.suppressed++;
      return;
    }
    const carried = episode?.suppressed ?? 0;
    this.#episodes.set(kind, { last: now, suppressed: 0 });
    const more = carried > 0 ? ` (${carried} more of this kind were not logged in the previous episode)` : "";
    this.#safe(() => this.#logger.error(`wsmount: ${messageOf(error)}${more}; further ones are counted, not logged, until ${EPISODE_QUIET_MS / 1000} s pass without one`, error));
  }

  /** Ends the episode of `kind`, saying so when one was under way (a broker that is back). */
  recovered(kind: string, what: string): void {
    const episode = this.#episodes.get(kind);
    if (episode === undefined) return;
    this.#episodes.delete(kind);
    this.#safe(() => this.#logger.warn(`wsmount: ${what} recovered (${episode.suppressed} more failures after the first)`));
  }

  #safe(log: () => void): void {
    try {
      log();
    } catch {
      // A logger that throws must not turn a fault into a crash.
    }
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message.replace(/^wsmount: /, "") : String(error);
}
