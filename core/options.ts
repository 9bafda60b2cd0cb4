/**
 * Endpoint options: defaults and validation, done once at creation into a frozen object.
 * @module
 */
import { validateHeaderName, validateHeaderValue, type IncomingMessage } from "node:http";
import { randomFillSync } from "node:crypto";
import { InvalidOptionError, type HandshakeRejection } from "./errors.js";
import { memoryBroker, type Broker } from "./broker.js";
import { consoleLogger, silentLogger, type Logger } from "./fault-log.js";
import type { RateLimitOptions, ResolvedRateLimit } from "./rate-limit.js";

/** What `authenticate` may resolve to: the connection's id and session data, or a refusal. */
export type AuthResult<Data> =
  | { id?: string; data?: Data }
  | HandshakeRejection
  | boolean
  | undefined
  | void;

/** permessage-deflate (RFC 7692) settings. */
export interface CompressionOptions {
  /** Messages smaller than this many bytes are sent uncompressed. @defaultValue 1024 */
  threshold?: number;
  /** zlib compression level, 0-9. @defaultValue 6 */
  level?: number;
  /** zlib memory level, 1-9. @defaultValue 8 */
  memLevel?: number;
  /**
   * Impose `server_no_context_takeover`: each outgoing message is compressed on its own, which lets a
   * broadcast compress a message once for every recipient, at some cost in ratio. @defaultValue false
   */
  serverNoContextTakeover?: boolean;
  /** Ask the client for `client_no_context_takeover` (saves server memory). @defaultValue false */
  clientNoContextTakeover?: boolean;
  /** The server's LZ77 window, 8-15 bits. @defaultValue 15 */
  serverMaxWindowBits?: number;
  /** The largest client window accepted, 8-15 bits. @defaultValue 15 */
  clientMaxWindowBits?: number;
  /** How many zlib operations may run at once across the process. @defaultValue 10 */
  concurrencyLimit?: number;
}

/** A function of the upgrade request, or a static value. */
export type ValueOrFn<T> = T | ((request: IncomingMessage) => T);

/** Options of a WebSocket endpoint. Every one is optional and validated at creation. */
export interface EndpointOptions<Data = unknown> {
  /**
   * Milliseconds allowed between the upgrade request arriving and the 101 (or a refusal) being
   * written: framework middleware, `authenticate` and the handshake itself. On expiry the client
   * gets `503`. @defaultValue 10000
   */
  handshakeTimeout?: number;
  /** Milliseconds between heartbeat pings; `0` turns the heartbeat off. @defaultValue 30000 */
  pingInterval?: number;
  /**
   * Milliseconds a peer has to answer a ping, or a close frame we sent, before it is terminated.
   * @defaultValue 10000
   */
  pongTimeout?: number;
  /** Close with 1001 when no message arrives for this many milliseconds; `0` is off. @defaultValue 0 */
  idleTimeout?: number;
  /**
   * Terminate a connection whose queued outgoing data makes no progress towards the socket for this
   * many milliseconds (a stuck consumer); `0` is off. @defaultValue 30000
   */
  writeTimeout?: number;
  /** Largest message accepted, in bytes (decompressed size when compressed); larger closes 1009. @defaultValue 1048576 */
  maxMessageSize?: number;
  /**
   * The most frames one message may arrive in; more closes the connection with 1008. A defence against
   * fragment floods (each fragment costs memory until the message is complete) that scales with
   * `maxMessageSize`, so that legal messages in small fragments pass (Autobahn 9.3/9.4: 4 MiB in
   * 64-byte fragments). @defaultValue max(16384, ceil(maxMessageSize / 64))
   */
  maxFragments?: number;
  /**
   * Bytes of received messages held for the application while an async connection handler is still
   * running. Past it, the connection stops reading from the socket (TCP flow control holds the rest)
   * until the handler is done: nothing is lost. @defaultValue 65536
   */
  readBufferSize?: number;
  /**
   * The high-water mark of a connection's outgoing buffer: `send()` returns `false` once
   * `bufferedAmount` is above it, and `stream()` writes fragments of this size. @defaultValue 65536
   */
  writeBufferSize?: number;
  /**
   * The hard limit of a connection's outgoing buffer, in bytes. A `send()` that finds `bufferedAmount`
   * above it applies `backpressure`. It may not be below `maxMessageSize` (echoing a legal message
   * would close a well-behaved client 1013). @defaultValue max(8388608, 2 * maxMessageSize)
   */
  maxBufferedAmount?: number;
  /**
   * What to do with a slow consumer over `maxBufferedAmount`: `"drop"` the message (counted in
   * `stats().messagesDropped`) or `"close"` the connection with 1013. @defaultValue "close"
   */
  backpressure?: "drop" | "close";
  /**
   * Supported subprotocols in the server's order of preference. A client that offers protocols of
   * which none is supported gets `400` naming the supported ones. @defaultValue []
   */
  subprotocols?: readonly string[];
  /** permessage-deflate: `false`, `true` (defaults) or settings. @defaultValue false */
  compression?: boolean | CompressionOptions;
  /**
   * Origin policy. `true`: when an `Origin` header is present its host must equal `Host` (else `403`);
   * `false`: any origin; an array: allowed origins (e.g. `"https://app.example.com"`);
   * a function: your decision (may be async). @defaultValue true
   */
  checkOrigin?:
    | boolean
    | readonly string[]
    | ((origin: string | undefined, request: IncomingMessage) => boolean | Promise<boolean>);
  /**
   * Runs before the 101, after the framework's middleware; may be async. Resolve to `{ id, data }` to
   * set the connection's id and session, `false` to refuse with `401`, or throw/return a
   * `HandshakeRejection` to refuse with your own status, headers and body. @defaultValue none
   */
  authenticate?: (request: IncomingMessage) => AuthResult<Data> | Promise<AuthResult<Data>>;
  /** Generates a connection id when `authenticate` gives none. @defaultValue 128 random bits, base64url */
  generateId?: (request: IncomingMessage) => string;
  /** Extra headers on the 101 response. @defaultValue none */
  headers?: ValueOrFn<Record<string, string | readonly string[]>>;
  /** Open connections beyond which new upgrades get `503`. @defaultValue Infinity */
  maxConnections?: number;
  /**
   * The endpoint's name on the broker: processes whose endpoints share a name share rooms and
   * broadcasts. Give each endpoint its own when several share a broker. @defaultValue "default"
   */
  name?: string;
  /** Carries rooms, broadcasts and targeted sends between processes. @defaultValue in-process delivery */
  broker?: Broker;
  /** Milliseconds `emitWithAck` waits for an answer; `0` waits until the connection closes. @defaultValue 10000 */
  ackTimeout?: number;
  /** Send each client its connection id as the first message (events protocol `w`). @defaultValue false */
  welcome?: boolean;
  /**
   * Where server faults nobody handles are logged (handler failures, broker outages, internal faults
   * while routing an upgrade) when no `onError` handler is registered: once per episode, not once per
   * occurrence. `false` logs nothing (use `onError` or the `wsmount:*` diagnostics channels).
   * @defaultValue `console` (Fastify: the instance's logger)
   */
  logger?: Logger | false;
  /**
   * The most rooms one connection may be in. `join` past it throws a `RangeError` with `code`
   * `ERR_WSMOUNT_ROOM_LIMIT` and changes nothing (inside an event handler, the client's call gets that
   * code back). A bound on what a peer can make the server keep when rooms are joined on its request.
   * `Infinity` turns it off. @defaultValue 1000
   */
  maxRoomsPerConnection?: number;
  /**
   * The most `emitWithAck` calls one connection may have waiting for the client's answer. Past it,
   * `emitWithAck` rejects at once with an `AckError` whose `code` is `ERR_WSMOUNT_TOO_MANY_PENDING_ACKS`
   * and nothing is sent: a client that never answers cannot make the server keep calls without bound.
   * `Infinity` turns it off. @defaultValue 1000
   */
  maxPendingAcks?: number;
  /**
   * The hosts clients may ask for (`Host`, or `X-Forwarded-Host` with `trustProxy`): a defence against
   * DNS rebinding, where a page whose name was made to resolve to this server passes the same-origin
   * check with its own name. Entries are host names (`"app.example.com"`) or suffixes (`".example.com"`
   * allows it and every subdomain); IP literals are always allowed. Others get `403`. @defaultValue "any"
   */
  allowedHosts?: "any" | readonly string[];
  /**
   * Believe `X-Forwarded-Proto` and `X-Forwarded-Host` from a reverse proxy in front of this server (set
   * it only when such a proxy always sets or strips them). The origin check then knows the scheme the
   * client used behind a proxy that ended TLS. @defaultValue false
   */
  trustProxy?: boolean;
  /**
   * Handshakes past their checks (in `checkOrigin`, `authenticate` or the 101) at once; more get `503`
   * with `Retry-After: 1`. Sheds load early under a storm of handshakes or a slow `authenticate`.
   * @defaultValue 1000
   */
  maxPendingHandshakes?: number;
  /**
   * Messages and bytes each connection may send per interval (token buckets), and what happens past
   * them: `{ messages: 100, bytes: 1048576, interval: 1000, policy: "drop" }`. Off by default: set it
   * on any endpoint that strangers reach. @defaultValue false
   */
  rateLimit?: RateLimitOptions | false;
}

/** Options after defaults and validation. */
export interface ResolvedOptions<Data = unknown> {
  readonly handshakeTimeout: number;
  readonly pingInterval: number;
  readonly pongTimeout: number;
  readonly idleTimeout: number;
  readonly writeTimeout: number;
  readonly maxMessageSize: number;
  readonly maxFragments: number;
  readonly readBufferSize: number;
  readonly writeBufferSize: number;
  readonly maxBufferedAmount: number;
  readonly backpressure: "drop" | "close";
  readonly subprotocols: readonly string[];
  readonly compression: Readonly<Required<CompressionOptions>> | false;
  readonly checkOrigin: EndpointOptions["checkOrigin"] & {};
  readonly authenticate: EndpointOptions<Data>["authenticate"] | undefined;
  readonly generateId: (request: IncomingMessage) => string;
  readonly headers: EndpointOptions["headers"] | undefined;
  readonly maxConnections: number;
  readonly name: string;
  readonly broker: Broker;
  readonly ackTimeout: number;
  readonly welcome: boolean;
  readonly logger: Logger;
  readonly maxRoomsPerConnection: number;
  readonly maxPendingAcks: number;
  readonly allowedHosts: "any" | readonly string[];
  readonly trustProxy: boolean;
  readonly maxPendingHandshakes: number;
  readonly rateLimit: ResolvedRateLimit | false;
}

const KNOWN = new Set([
  "handshakeTimeout", "pingInterval", "pongTimeout", "idleTimeout", "writeTimeout", "maxMessageSize", "maxFragments",
  "readBufferSize", "writeBufferSize", "maxBufferedAmount", "backpressure", "subprotocols", "compression",
  "checkOrigin", "authenticate", "generateId", "headers", "maxConnections", "name", "broker", "ackTimeout", "welcome",
  "logger",
  "maxRoomsPerConnection", "maxPendingAcks",
  "allowedHosts", "trustProxy", "maxPendingHandshakes", "rateLimit",
]);

const COMPRESSION_DEFAULTS: Required<CompressionOptions> = {
  threshold: 1024,
  level: 6,
  memLevel: 8,
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
  concurrencyLimit: 10,
};

// RFC 6455 section 4.1: a subprotocol is a token (RFC 7230 tchar).
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

// Ids are cut from a pool refilled 256 at a time: one call into the CSPRNG per 256 handshakes
// instead of one per handshake (it showed in handshake profiles).
const ID_BYTES = 16;
const pool = Buffer.alloc(ID_BYTES * 256);
let poolOffset = pool.length;

/** The default id: 128 random bits, base64url (22 characters). */
export function randomId(): string {
  if (poolOffset === pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const id = pool.toString("base64url", poolOffset, poolOffset + ID_BYTES);
  poolOffset += ID_BYTES;
  return id;
}

const MOUNTED_ON_ROUTES =
  'nothing: it mounts on your framework\'s routes, so the server, port and path are the framework\'s (app.get("/echo", ws.handler(onConnection)), then ws.attach(server)); wsmount/node takes ws.attach(server, { path: "/echo" }, onConnection)';

/**
 * Options of `ws` (and two of socket.io) that people pass to wsmount, with what does their job here: a
 * wsmount option, quoted, or the reason none is needed.
 */
const FOREIGN_OPTIONS: Readonly<Record<string, readonly [from: string, instead: string]>> = {
  maxPayload: ["ws", '"maxMessageSize" (the largest message accepted, in bytes; over it: close 1009)'],
  perMessageDeflate: ["ws", '"compression" (true, or { threshold, level, serverNoContextTakeover, ... })'],
  verifyClient: ["ws", '"authenticate" (who may connect: return false for 401, { id, data } to accept) or "checkOrigin" (which Origin headers are allowed)'],
  handleProtocols: ["ws", '"subprotocols" (the supported subprotocols, in the server\'s order of preference)'],
  clientTracking: ["ws", "nothing: it always tracks its connections (ws.connections(), ws.size)"],
  skipUTF8Validation: ["ws", "nothing: it always validates text messages (invalid UTF-8: close 1007, RFC 6455 section 8.1)"],
  autoPong: ["ws", "nothing: it always answers pings"],
  server: ["ws", MOUNTED_ON_ROUTES],
  port: ["ws", MOUNTED_ON_ROUTES],
  host: ["ws", MOUNTED_ON_ROUTES],
  path: ["ws", MOUNTED_ON_ROUTES],
  noServer: ["ws", MOUNTED_ON_ROUTES],
  backlog: ["ws", MOUNTED_ON_ROUTES],
  maxHttpBufferSize: ["socket.io", '"maxMessageSize" (the largest message accepted, in bytes)'],
  pingTimeout: ["socket.io", '"pongTimeout" (ms a peer has to answer a ping)'],
};

/** The error for an option wsmount does not have: what does its job, or the known option it resembles. */
function unknownOption(key: string): InvalidOptionError {
  const error = new InvalidOptionError(key, "a wsmount option", "an unknown option");
  const foreign = Object.hasOwn(FOREIGN_OPTIONS, key) ? FOREIGN_OPTIONS[key] : undefined;
  if (foreign !== undefined) {
    const [from, instead] = foreign;
    error.message = instead.startsWith('"')
      ? `wsmount: unknown option "${key}" (an option of ${from}); in wsmount it is ${instead}`
      : `wsmount: unknown option "${key}" (an option of ${from}); wsmount needs ${instead}`;
  } else {
    const near = [...KNOWN].find((name) => editDistance(name.toLowerCase(), key.toLowerCase()) <= 2);
    error.message =
      near !== undefined ? `wsmount: unknown option "${key}"; did you mean "${near}"?` : `wsmount: unknown option "${key}"; the options are ${[...KNOWN].join(", ")}`;
  }
  return error;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** Validates `options` and fills in defaults; throws a `TypeError` naming the first bad option. */
export function resolveOptions<Data>(options: EndpointOptions<Data> = {}): ResolvedOptions<Data> {
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new InvalidOptionError("options", "an object", options);
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) throw unknownOption(key);
  }
  const pingInterval = ms(options, "pingInterval", 30_000, true);
  const maxMessageSize = int(options, "maxMessageSize", 1024 * 1024, 1);
  const writeBufferSize = int(options, "writeBufferSize", 64 * 1024, 1);
  const maxBufferedAmount = int(options, "maxBufferedAmount", Math.max(8 * 1024 * 1024, 2 * maxMessageSize), 1);
  if (maxBufferedAmount < writeBufferSize) {
    throw new InvalidOptionError("maxBufferedAmount", `at least writeBufferSize (${writeBufferSize})`, maxBufferedAmount);
  }
  if (maxBufferedAmount < maxMessageSize) {
    throw new InvalidOptionError(
      "maxBufferedAmount",
      `at least maxMessageSize (${maxMessageSize}): a legal message sent back would close a well-behaved client with 1013; raise maxBufferedAmount or lower maxMessageSize`,
      maxBufferedAmount,
    );
  }
  return Object.freeze({
    handshakeTimeout: ms(options, "handshakeTimeout", 10_000, false),
    pingInterval,
    pongTimeout: ms(options, "pongTimeout", 10_000, false),
    idleTimeout: ms(options, "idleTimeout", 0, true),
    writeTimeout: ms(options, "writeTimeout", 30_000, true),
    maxMessageSize,
    maxFragments: int(options, "maxFragments", Math.max(16_384, Math.ceil(maxMessageSize / 64)), 1),
    readBufferSize: int(options, "readBufferSize", 64 * 1024, 1),
    writeBufferSize,
    maxBufferedAmount,
    backpressure: oneOf(options, "backpressure", ["drop", "close"] as const, "close"),
    subprotocols: subprotocols(options.subprotocols),
    compression: compression(options.compression),
    checkOrigin: checkOrigin(options.checkOrigin),
    authenticate: fn<ResolvedOptions<Data>["authenticate"]>(options, "authenticate"),
    generateId: fn<(request: IncomingMessage) => string>(options, "generateId") ?? randomId,
    headers: headers(options.headers),
    maxConnections: maxConnections(options.maxConnections),
    name: name(options.name),
    broker: broker(options.broker),
    ackTimeout: ms(options, "ackTimeout", 10_000, true),
    welcome: bool(options, "welcome", false),
    logger: logger(options.logger),
    maxRoomsPerConnection: bound(options, "maxRoomsPerConnection", 1000),
    maxPendingAcks: bound(options, "maxPendingAcks", 1000),
    allowedHosts: allowedHosts(options.allowedHosts),
    trustProxy: bool(options, "trustProxy", false),
    maxPendingHandshakes: bound(options, "maxPendingHandshakes", 1000),
    rateLimit: rateLimit(options.rateLimit),
  });
}

function ms(options: object, name: string, fallback: number, zeroAllowed: boolean): number {
  const value = (options as Record<string, unknown>)[name];
  if (value === undefined) return fallback;
  const ok = typeof value === "number" && Number.isInteger(value) && value <= 2_147_483_647 && (zeroAllowed ? value >= 0 : value > 0);
  if (!ok) throw new InvalidOptionError(name, `an integer number of milliseconds ${zeroAllowed ? ">= 0 (0 = off)" : "> 0"}`, value);
  return value;
}

function int(options: object, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const value = (options as Record<string, unknown>)[name];
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionError(name, `an integer from ${min} to ${max}`, value);
  }
  return value;
}

function oneOf<const T extends readonly string[]>(options: object, name: string, allowed: T, fallback: T[number]): T[number] {
  const value = (options as Record<string, unknown>)[name];
  if (value === undefined) return fallback;
  if (typeof value !== "string" || !allowed.includes(value)) {
    throw new InvalidOptionError(name, `one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}`, value);
  }
  return value;
}

function fn<F>(options: object, name: string): F | undefined {
  const value = (options as Record<string, unknown>)[name];
  if (value === undefined) return undefined;
  if (typeof value !== "function") throw new InvalidOptionError(name, "a function", value);
  return value as F;
}

function subprotocols(value: unknown): readonly string[] {
  if (value === undefined) return Object.freeze([]);
  if (!Array.isArray(value)) throw new InvalidOptionError("subprotocols", "an array of protocol names", value);
  const seen = new Set<string>();
  for (const entry of value) {
    if (typeof entry !== "string" || !TOKEN.test(entry)) {
      throw new InvalidOptionError("subprotocols", "an array of HTTP tokens such as \"chat.v1\"", entry);
    }
    if (seen.has(entry)) throw new InvalidOptionError("subprotocols", "an array without duplicates", entry);
    seen.add(entry);
  }
  return Object.freeze([...value]);
}

function compression(value: unknown): Readonly<Required<CompressionOptions>> | false {
  if (value === undefined || value === false) return false;
  if (value === true) return Object.freeze({ ...COMPRESSION_DEFAULTS });
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new InvalidOptionError("compression", "a boolean or an object", value);
  }
  const known = Object.keys(COMPRESSION_DEFAULTS);
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) throw new InvalidOptionError(`compression.${key}`, `one of ${known.join(", ")}`, "an unknown option");
  }
  const v = value as CompressionOptions;
  const prefixed = (name: string, min: number, max: number, fallback: number) =>
    int({ [`compression.${name}`]: (v as Record<string, unknown>)[name] }, `compression.${name}`, fallback, min, max);
  const bool = (name: keyof CompressionOptions): boolean => {
    const b = v[name];
    if (b === undefined) return COMPRESSION_DEFAULTS[name] as boolean;
    if (typeof b !== "boolean") throw new InvalidOptionError(`compression.${name}`, "a boolean", b);
    return b;
  };
  return Object.freeze({
    threshold: prefixed("threshold", 0, Number.MAX_SAFE_INTEGER, 1024),
    level: prefixed("level", 0, 9, 6),
    memLevel: prefixed("memLevel", 1, 9, 8),
    serverNoContextTakeover: bool("serverNoContextTakeover"),
    clientNoContextTakeover: bool("clientNoContextTakeover"),
    serverMaxWindowBits: prefixed("serverMaxWindowBits", 8, 15, 15),
    clientMaxWindowBits: prefixed("clientMaxWindowBits", 8, 15, 15),
    concurrencyLimit: prefixed("concurrencyLimit", 1, 1024, 10),
  });
}

function checkOrigin(value: unknown): ResolvedOptions["checkOrigin"] {
  if (value === undefined) return true;
  if (typeof value === "boolean" || typeof value === "function") return value as ResolvedOptions["checkOrigin"];
  if (Array.isArray(value)) {
    for (const origin of value) {
      if (typeof origin !== "string" || !/^[a-z][a-z0-9+.-]*:\/\/[^/\s]+$/i.test(origin)) {
        throw new InvalidOptionError("checkOrigin", "an array of origins such as \"https://app.example.com\"", origin);
      }
    }
    return Object.freeze(value.map((o: string) => o.toLowerCase()));
  }
  throw new InvalidOptionError("checkOrigin", "a boolean, an array of origins or a function", value);
}

function headers(value: unknown): ResolvedOptions["headers"] {
  if (value === undefined || typeof value === "function") return value as ResolvedOptions["headers"];
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new InvalidOptionError("headers", "an object of header values or a function returning one", value);
  }
  validateHeaders(value as Record<string, unknown>, "headers");
  return Object.freeze({ ...(value as Record<string, string>) });
}

/** Throws a `TypeError` naming `option` when a header name or value is not valid HTTP. */
export function validateHeaders(value: Record<string, unknown>, option: string): void {
  for (const [name, v] of Object.entries(value)) {
    try {
      validateHeaderName(name);
      for (const item of Array.isArray(v) ? v : [v]) {
        if (typeof item !== "string") throw new TypeError("not a string");
        validateHeaderValue(name, item);
      }
    } catch {
      throw new InvalidOptionError(`${option}.${name}`, "a valid HTTP header (string value, no CR/LF)", v);
    }
  }
}

function bool(options: object, name: string, fallback: boolean): boolean {
  const value = (options as Record<string, unknown>)[name];
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") throw new InvalidOptionError(name, "a boolean", value);
  return value;
}

function name(value: unknown): string {
  if (value === undefined) return "default";
  if (typeof value !== "string" || value.length === 0 || value.length > 200) throw new InvalidOptionError("name", "a non-empty string of at most 200 characters", value);
  return value;
}

function broker(value: unknown): Broker {
  if (value === undefined) return memoryBroker();
  if (value === null || typeof value !== "object" || typeof (value as Broker).connect !== "function") {
    throw new InvalidOptionError("broker", "a broker (an object with a connect() method, e.g. memoryBroker())", value);
  }
  return value as Broker;
}

function maxConnections(value: unknown): number {
  if (value === undefined || value === Infinity) return Infinity;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw new InvalidOptionError("maxConnections", "a positive integer or Infinity", value);
  }
  return value;
}

function logger(value: unknown): Logger {
  if (value === undefined) return consoleLogger;
  if (value === false) return silentLogger;
  const candidate = value as Partial<Logger> | null;
  if (candidate === null || typeof candidate !== "object" || typeof candidate.error !== "function" || typeof candidate.warn !== "function") {
    throw new InvalidOptionError("logger", "false or an object with error(message, error) and warn(message) methods", value);
  }
  return candidate as Logger;
}

/** A per-connection bound: a positive integer, or `Infinity` for none. */
function bound(options: object, name: string, fallback: number): number {
  const value = (options as Record<string, unknown>)[name];
  if (value === undefined) return fallback;
  if (value === Infinity || (typeof value === "number" && Number.isInteger(value) && value >= 1)) return value as number;
  throw new InvalidOptionError(name, "a positive integer or Infinity", value);
}

// A host name (RFC 1123 labels), optionally with a leading dot for "this domain and below".
const HOST_NAME = /^\.?(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

function allowedHosts(value: unknown): "any" | readonly string[] {
  if (value === undefined || value === "any") return "any";
  if (!Array.isArray(value)) throw new InvalidOptionError("allowedHosts", '"any" or an array of host names such as "app.example.com" or ".example.com"', value);
  for (const entry of value) {
    if (typeof entry !== "string" || !HOST_NAME.test(entry)) {
      throw new InvalidOptionError("allowedHosts", 'an array of host names without port or scheme, such as "app.example.com" or ".example.com"', entry);
    }
  }
  return Object.freeze(value.map((entry: string) => entry.toLowerCase()));
}

function rateLimit(value: unknown): ResolvedRateLimit | false {
  if (value === undefined || value === false) return false;
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new InvalidOptionError("rateLimit", "false or an object such as { messages: 100, interval: 1000 }", value);
  }
  const known = ["messages", "bytes", "interval", "policy"];
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) throw new InvalidOptionError(`rateLimit.${key}`, `one of ${known.join(", ")}`, "an unknown option");
  }
  const v = value as Record<string, unknown>;
  const prefixed = (name: string) => ({ [`rateLimit.${name}`]: v[name] });
  const messages = bound(prefixed("messages"), "rateLimit.messages", Infinity);
  const bytes = bound(prefixed("bytes"), "rateLimit.bytes", Infinity);
  if (messages === Infinity && bytes === Infinity) {
    throw new InvalidOptionError("rateLimit", "an object with messages or bytes (or false for no limit)", value);
  }
  return Object.freeze({
    messages,
    bytes,
    interval: ms(prefixed("interval"), "rateLimit.interval", 1000, false),
    policy: oneOf(prefixed("policy"), "rateLimit.policy", ["drop", "close"] as const, "drop"),
  });
}
