/**
 * Client options: defaults and validation, once, at `connect()`.
 * @module
 */
import type { ReconnectOptions, ResolvedReconnectOptions } from "./backoff.js";
import type { WebSocketConstructor } from "./websocket-like.js";

/** Options of {@link connect}. */
export interface ClientOptions {
  /** Subprotocols offered in the handshake (`Sec-WebSocket-Protocol`). Default: none. */
  protocols?: string | string[];
  /**
   * The WebSocket implementation. Default: the platform's global `WebSocket` (browsers, Node >= 22). In Node 20,
   * pass one, e.g. `WebSocket` from the `ws` package.
   */
  WebSocket?: WebSocketConstructor;
  /** Reconnect automatically after the connection is lost; `false` turns it off. Default: `true` (defaults below). */
  reconnect?: boolean | ReconnectOptions;
  /** Milliseconds `emitWithAck` waits for an answer; `0` waits until the connection closes. Default: `10000`. */
  ackTimeout?: number;
  /**
   * How many events emitted while not connected are kept and sent on (re)connect; `0` keeps none. Past the
   * limit, `emit` returns `false` and `emitWithAck` rejects with `ERR_WSMOUNT_QUEUE_FULL`: the newest event is
   * the one refused, queued ones are never dropped. Default: `100`.
   */
  queueSize?: number;
  /**
   * Wait for the server's welcome message before counting the connection as open, so `id` is known when
   * `onConnect` runs. Only for servers that send a welcome: otherwise the client never opens. Default: `false`.
   */
  waitForWelcome?: boolean;
  /**
   * How many `emitWithAck` calls may wait for their answers at once (queued ones included). Past it,
   * `emitWithAck` rejects at once with `ERR_WSMOUNT_TOO_MANY_PENDING_ACKS` and sends nothing: a server that
   * never answers cannot make the client keep calls without bound. `Infinity` turns it off. Default: `1000`.
   */
  maxPendingAcks?: number;
}

/** Options with every default filled in. */
export interface ResolvedClientOptions {
  protocols: string | string[];
  WebSocket: WebSocketConstructor;
  reconnect: ResolvedReconnectOptions | false;
  ackTimeout: number;
  queueSize: number;
  waitForWelcome: boolean;
  maxPendingAcks: number;
}

function fail(name: string, expected: string): never {
  throw new TypeError(`wsmount client: options.${name} must be ${expected}`);
}

/** Reads a number option: `integer` means an integer or `Infinity`. */
function number(
  options: object,
  prefix: string,
  key: string,
  fallback: number,
  min: number,
  max = Infinity,
  integer = false,
): number {
  const value: unknown = (options as Record<string, unknown>)[key] ?? fallback;
  if (
    typeof value !== "number" ||
    !(value >= min && value <= max) ||
    (integer && !Number.isInteger(value) && value !== Infinity)
  ) {
    fail(prefix + key, `${integer ? "an integer" : "a number"} from ${min} to ${max}`);
  }
  return value;
}

function resolveReconnect(value: unknown): ResolvedReconnectOptions | false {
  if (value === false) return false;
  if (value !== undefined && value !== true && (typeof value !== "object" || value === null)) {
    fail("reconnect", "a boolean or an object");
  }
  const options = typeof value === "object" ? value : {};
  const initialDelay = number(options, "reconnect.", "initialDelay", 500, 0, 2_147_483_647);
  return {
    initialDelay,
    maxDelay: number(options, "reconnect.", "maxDelay", Math.max(10_000, initialDelay), initialDelay, 2_147_483_647),
    factor: number(options, "reconnect.", "factor", 2, 1, 1_000),
    jitter: number(options, "reconnect.", "jitter", 0.5, 0, 1),
    maxAttempts: number(options, "reconnect.", "maxAttempts", Infinity, 0, Infinity, true),
  };
}

/** Validates client options and fills in defaults. @throws TypeError naming the first invalid option. */
export function resolveClientOptions(options: ClientOptions | undefined): ResolvedClientOptions {
  if (options === undefined) options = {};
  if (typeof options !== "object" || options === null) throw new TypeError("wsmount client: options must be an object");
  const WebSocket = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (typeof WebSocket !== "function") {
    fail("WebSocket", "a WebSocket constructor (there is no global WebSocket here: pass one, e.g. from 'ws')");
  }
  const protocols = options.protocols ?? [];
  if (typeof protocols !== "string" && !(Array.isArray(protocols) && protocols.every((p) => typeof p === "string"))) {
    fail("protocols", "a string or an array of strings");
  }
  const waitForWelcome = options.waitForWelcome ?? false;
  if (typeof waitForWelcome !== "boolean") fail("waitForWelcome", "a boolean");
  return {
    protocols,
    WebSocket,
    reconnect: resolveReconnect(options.reconnect),
    ackTimeout: number(options, "", "ackTimeout", 10_000, 0, 2_147_483_647),
    queueSize: number(options, "", "queueSize", 100, 0, Infinity, true),
    waitForWelcome,
    maxPendingAcks: number(options, "", "maxPendingAcks", 1000, 1, Infinity, true),
  };
}
