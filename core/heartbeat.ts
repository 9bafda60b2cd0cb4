/**
 * One shared timer per endpoint for every time-based rule of its connections (ping/pong, idle,
 * write progress): no timer per connection, only a few numbers on each. A rule that fires on a
 * connection already closing may still terminate it (its peer may never read the close frame), but
 * the close is counted in `stats().closedBy` only under the cause that started it (`Connection._expire`).
 * @module
 */
import type { Connection } from "./connection.js";
import { ErrorCode } from "./errors.js";
import { checkBudget } from "./memory-budget.js";
import type { ResolvedOptions } from "./options.js";
import type { Counters } from "./stats.js";
import { now } from "./clock.js";

/** `_expire` without a closing handshake: the socket is destroyed. */
const TERMINATE = 0;

/**
 * The tick is a quarter of the shortest enabled interval, between 5 ms and 1 s: a rule fires at most
 * that late.
 */
export function tickInterval(options: ResolvedOptions<unknown>): number {
  const intervals = [options.pingInterval, options.pingInterval > 0 ? options.pongTimeout : 0, options.idleTimeout, options.writeTimeout].filter(
    (value) => value > 0,
  );
  if (intervals.length === 0) return 0;
  return Math.min(1000, Math.max(5, Math.floor(Math.min(...intervals) / 4)));
}

/** Runs the endpoint's timing rules over its open connections while there are any. */
export class Heartbeat {
  readonly #options: ResolvedOptions<unknown>;
  readonly #connections: Map<string, Connection<unknown>>;
  readonly #interval: number;
  #timer: NodeJS.Timeout | null = null;

  /** `_counters` is unused: each connection counts its own close, once (see `Connection._expire`). */
  constructor(options: ResolvedOptions<unknown>, connections: Map<string, Connection<unknown>>, _counters?: Counters) {
    this.#options = options;
    this.#connections = connections;
    this.#interval = tickInterval(options);
  }

  /** Starts ticking if any rule is enabled and it is not running yet. */
  start(): void {
    if (this.#timer !== null || this.#interval === 0) return;
    this.#timer = setInterval(() => this.tick(now()), this.#interval);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Applies every rule to every connection as of `now`. */
  tick(now: number): void {
    checkBudget(now);
    const { pingInterval, pongTimeout, idleTimeout, writeTimeout } = this.#options;
    for (const connection of this.#connections.values()) {
      if (pingInterval > 0) {
        if (connection._pingSentAt !== 0) {
          if (now - connection._pingSentAt >= pongTimeout) {
            connection._expire("pongTimeout", ErrorCode.PONG_TIMEOUT, `no pong within ${pongTimeout} ms`, TERMINATE);
            continue;
          }
        } else if (now - connection._lastPingAt >= pingInterval) {
          connection._heartbeatPing(now);
        }
      }
      if (idleTimeout > 0) {
        if (connection._active) {
          connection._active = false;
          connection._idleSince = now;
        } else if (now - connection._idleSince >= idleTimeout) {
          connection._expire("idleTimeout", ErrorCode.IDLE_TIMEOUT, `idle timeout: no message for ${idleTimeout} ms`, 1001);
          continue;
        }
      }
      if (writeTimeout > 0) this.#checkWriteProgress(connection, now, writeTimeout);
    }
  }

  /**
   * A connection with data handed to `ws` whose socket has flushed nothing for `writeTimeout` is stuck.
   * Messages waiting behind a streamed message the application has not finished do not count: they
   * wait for the application, not for the peer.
   */
  #checkWriteProgress(connection: Connection<unknown>, now: number, writeTimeout: number): void {
    if (connection._unflushed() === 0) {
      connection._stall = null;
      return;
    }
    const written = connection._bytesFlushed();
    const stall = connection._stall;
    if (stall === null || written !== stall.bytes) {
      connection._stall = { since: now, bytes: written };
    } else if (now - stall.since >= writeTimeout) {
      connection._expire("writeTimeout", ErrorCode.WRITE_TIMEOUT, `write timeout: no write progress for ${writeTimeout} ms`, TERMINATE);
    }
  }
}
