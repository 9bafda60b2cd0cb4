/**
 * Pure handshake checks (RFC 6455 section 4.2.1): they look at a request and return a verdict;
 * they never write to a socket.
 * @module
 */
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";

/** A refusal the caller writes as an HTTP response. */
export interface Refusal {
  status: number;
  /** Why, as counted in `stats().handshakes.refused`. */
  reason: RefusalReason;
  body: string;
  headers?: Record<string, string | readonly string[]>;
}

/** Reasons a handshake can be refused, as counted in stats. */
export type RefusalReason =
  | "bad-request"
  | "version"
  | "origin"
  | "subprotocol"
  | "auth"
  | "capacity"
  | "shutting-down"
  | "timeout"
  | "conflict"
  | "error";

const KEY = /^[+/0-9A-Za-z]{21}[AQgw]==$/;

/** True when the request asks for a WebSocket upgrade (`Upgrade: websocket`, any case). */
export function isWebSocketUpgrade(request: IncomingMessage): boolean {
  const upgrade = request.headers.upgrade;
  return upgrade !== undefined && hasToken(upgrade, "websocket");
}

/**
 * True when Node would have emitted `'upgrade'` for this request: `Upgrade: websocket` and a
 * `Connection` header with the `upgrade` token (without it, Node treats the request as plain HTTP).
 */
export function isUpgradeRequest(request: IncomingMessage): boolean {
  const connection = request.headers.connection;
  return isWebSocketUpgrade(request) && connection !== undefined && hasToken(connection, "upgrade");
}

/** True when the comma-separated header value contains `token` (case-insensitive). */
export function hasToken(value: string, token: string): boolean {
  if (value.length === token.length) return value.toLowerCase() === token;
  for (const part of value.split(",")) {
    if (part.trim().toLowerCase() === token) return true;
  }
  return false;
}

/**
 * Checks the parts of the opening handshake that do not depend on the endpoint's configuration:
 * method, HTTP version, `Connection`, `Upgrade`, `Sec-WebSocket-Key` and `Sec-WebSocket-Version`.
 */
export function checkHandshake(request: IncomingMessage): Refusal | null {
  // 1. "An HTTP/1.1 or higher GET request"
  if (request.method !== "GET") {
    return { status: 405, reason: "bad-request", body: "WebSocket handshakes must use GET", headers: { Allow: "GET" } };
  }
  if (request.httpVersionMajor < 1 || (request.httpVersionMajor === 1 && request.httpVersionMinor < 1)) {
    return { status: 400, reason: "bad-request", body: "WebSocket handshakes need HTTP/1.1" };
  }
  // 2. "A |Host| header field containing the server's authority"
  if (request.headers.host === undefined || request.headers.host === "") {
    return { status: 400, reason: "bad-request", body: "Missing Host header" };
  }
  // 3-4. "An |Upgrade| header field containing websocket", "a |Connection| header field that includes upgrade"
  if (!isWebSocketUpgrade(request)) {
    return { status: 400, reason: "bad-request", body: "Missing or invalid Upgrade header" };
  }
  const connection = request.headers.connection;
  if (connection === undefined || !hasToken(connection, "upgrade")) {
    return { status: 400, reason: "bad-request", body: "Missing or invalid Connection header" };
  }
  // 6. "A |Sec-WebSocket-Version| header field, with a value of 13"; otherwise 426 naming the
  // versions we speak (section 4.4).
  if (request.headers["sec-websocket-version"] !== "13") {
    return {
      status: 426,
      reason: "version",
      body: "Unsupported WebSocket version; this server speaks version 13",
      headers: { "Sec-WebSocket-Version": "13" },
    };
  }
  // 5. "A |Sec-WebSocket-Key| header field with a base64-encoded value that, when decoded, is 16 bytes"
  const key = request.headers["sec-websocket-key"];
  if (key === undefined || !KEY.test(key)) {
    return { status: 400, reason: "bad-request", body: "Missing or invalid Sec-WebSocket-Key header" };
  }
  return null;
}

/** Parses a `Sec-WebSocket-Protocol` header into its tokens; `null` when it is malformed. */
export function parseProtocols(header: string | undefined): string[] | null {
  if (header === undefined) return [];
  const protocols: string[] = [];
  for (const part of header.split(",")) {
    const token = part.trim();
    if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(token) || protocols.includes(token)) return null;
    protocols.push(token);
  }
  return protocols;
}

/**
 * Picks the subprotocol by the server's preference. Returns the chosen protocol, `null` when the
 * client offered none, or a refusal when it offered only unsupported ones (or a malformed list).
 */
export function selectSubprotocol(header: string | undefined, supported: readonly string[]): string | null | Refusal {
  const offered = parseProtocols(header);
  if (offered === null) {
    return { status: 400, reason: "subprotocol", body: "Invalid Sec-WebSocket-Protocol header" };
  }
  if (offered.length === 0) return null;
  for (const protocol of supported) {
    if (offered.includes(protocol)) return protocol;
  }
  return {
    status: 400,
    reason: "subprotocol",
    body: `Unsupported subprotocol (offered: ${offered.join(", ")}; supported: ${supported.length ? supported.join(", ") : "none"})`,
  };
}

/**
 * The default origin policy (as gorilla/websocket's `CheckOrigin`): a request without `Origin` is
 * allowed; one with `Origin` is allowed only when the origin's host equals the `Host` header.
 */
export function isSameOrigin(request: IncomingMessage): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  const host = request.headers.host;
  if (host === undefined) return false;
  let originHost: string;
  try {
    originHost = new URL(origin).host;
  } catch {
    return false;
  }
  return originHost.toLowerCase() === host.toLowerCase();
}

/** True when `origin` is in the (lower-cased) allow-list. */
export function isAllowedOrigin(origin: string | undefined, allowed: readonly string[]): boolean {
  return origin !== undefined && allowed.includes(origin.toLowerCase());
}

/** The pathname of a request URL, without the query. */
export function pathnameOf(url: string | undefined): string {
  if (url === undefined) return "/";
  const q = url.indexOf("?");
  return q === -1 ? url : url.slice(0, q);
}

/** The query of a request URL as an object (the first value of repeated keys). */
export function queryOf(url: string | undefined): Record<string, string> {
  const query: Record<string, string> = {};
  if (url === undefined) return query;
  const q = url.indexOf("?");
  if (q === -1) return query;
  for (const [key, value] of new URLSearchParams(url.slice(q + 1))) {
    if (!(key in query)) query[key] = value;
  }
  return query;
}

/** Headers never forwarded from middleware onto the 101: hop-by-hop, framing and handshake headers. */
const NOT_FORWARDED = new Set([
  "connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
  "content-length", "content-type", "date",
]);

/** True when a header set by middleware should be copied onto the 101 response. */
export function isForwardableHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return !NOT_FORWARDED.has(lower) && !lower.startsWith("sec-websocket-");
}

/** Request headers only the handshake itself uses; the rest of the request's headers stay with the connection. */
const HANDSHAKE_ONLY = new Set(["connection", "upgrade", "sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions"]);

/**
 * The headers a connection keeps of its request: all but {@link HANDSHAKE_ONLY}, in a new object, so
 * that neither the request's own headers object nor the handshake's values (the key, for one) stay in
 * memory for the connection's life.
 */
export function connectionHeaders(headers: IncomingHttpHeaders): Record<string, string | string[] | undefined> {
  const kept: Record<string, string | string[] | undefined> = {};
  for (const name in headers) {
    if (HANDSHAKE_ONLY.has(name)) continue;
    const value = headers[name];
    kept[name] = typeof value === "string" && USUALLY_SHARED.has(name) ? shared(value) : value;
  }
  return kept;
}

/**
 * Headers whose values most connections have in common (one host, a few browsers): each distinct value
 * is kept once for all connections instead of once per connection, about 0.3 KiB per browser connection.
 */
const USUALLY_SHARED = new Set(["host", "origin", "user-agent", "accept-language", "accept-encoding", "cache-control", "pragma", "sec-websocket-protocol"]);
const sharedValues = new Map<string, string>();
// Bounded: a client sending a new value each time only fills the table, after which values are kept per connection.
const MAX_SHARED_VALUES = 256;
const MAX_SHARED_LENGTH = 256;

function shared(value: string): string {
  const known = sharedValues.get(value);
  if (known !== undefined) return known;
  if (sharedValues.size < MAX_SHARED_VALUES && value.length <= MAX_SHARED_LENGTH) sharedValues.set(value, value);
  return value;
}
