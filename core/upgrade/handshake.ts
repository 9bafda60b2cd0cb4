/**
 * Pure handshake checks (RFC 6455 section 4.2.1): they look at a request and return a verdict;
 * they never write to a socket.
 * @module
 */
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import { isIP } from "node:net";

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
  | "host"
  | "busy"
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
  // Exactly one protocol, websocket: a repeated header (joined by Node as "websocket, websocket") or a
  // list of protocols is refused, as ws refuses it.
  const upgrade = request.headers.upgrade;
  if (upgrade === undefined || upgrade.trim().toLowerCase() !== "websocket") {
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

/** The most subprotocols a client may offer; a longer list is refused (no client offers more than a few). */
export const MAX_OFFERED_PROTOCOLS = 64;

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Parses a `Sec-WebSocket-Protocol` header into its tokens; `null` when it is malformed, repeats a
 * token or offers more than {@link MAX_OFFERED_PROTOCOLS}. Linear in the header's length.
 */
export function parseProtocols(header: string | undefined): string[] | null {
  if (header === undefined) return [];
  const protocols = new Set<string>();
  let start = 0;
  // A scan that stops at the first bad or excess token, instead of splitting the whole header first.
  for (;;) {
    const comma = header.indexOf(",", start);
    const token = header.slice(start, comma === -1 ? header.length : comma).trim();
    if (!TOKEN.test(token) || protocols.has(token) || protocols.size === MAX_OFFERED_PROTOCOLS) return null;
    protocols.add(token);
    if (comma === -1) return [...protocols];
    start = comma + 1;
  }
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
 * The scheme the client used to reach the server: `https` on a TLS socket, or what a trusted proxy says
 * in `X-Forwarded-Proto`; `null` when this server cannot tell (plain HTTP here, but a proxy in front may
 * have ended TLS).
 */
export function requestScheme(request: IncomingMessage, trustProxy: boolean): "http" | "https" | null {
  if ((request.socket as { encrypted?: boolean } | undefined)?.encrypted === true) return "https";
  if (!trustProxy) return null;
  const proto = firstValue(request.headers["x-forwarded-proto"])?.toLowerCase();
  return proto === "https" || proto === "http" ? proto : null;
}

/** The authority the client asked for: `Host`, or a trusted proxy's `X-Forwarded-Host`. */
export function requestHost(request: IncomingMessage, trustProxy: boolean): string | undefined {
  if (trustProxy) {
    const forwarded = firstValue(request.headers["x-forwarded-host"]);
    if (forwarded !== undefined && forwarded !== "") return forwarded;
  }
  return request.headers.host;
}

/**
 * The default origin policy (gorilla/websocket's `CheckOrigin`, made scheme-aware): a request without
 * `Origin` is allowed; one with `Origin` is allowed only when the origin names the host the client asked
 * for (default ports normalised: `Host: example.com:443` is `https://example.com`), with the scheme the
 * client used when the server can tell it (an `http://` page is refused on a TLS connection).
 */
export function isSameOrigin(request: IncomingMessage, trustProxy = false): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  const host = requestHost(request, trustProxy);
  if (host === undefined || host === "" || /[\s/\\?#@]/.test(host)) return false;
  let originUrl: URL;
  let hostUrl: URL;
  try {
    originUrl = new URL(origin);
    if (originUrl.protocol !== "http:" && originUrl.protocol !== "https:") return false;
    // The Host header read with the origin's scheme, so that its default port drops out the same way.
    hostUrl = new URL(`${originUrl.protocol}//${host}`);
  } catch {
    return false;
  }
  const scheme = requestScheme(request, trustProxy);
  if (scheme !== null && originUrl.protocol !== `${scheme}:`) return false;
  return originUrl.host === hostUrl.host;
}

/**
 * The `allowedHosts` policy, a defence against DNS rebinding (a page whose name is made to resolve to this
 * server sends its own name as `Host`): the host the client asked for must be in the list, exactly or
 * below a `.example.com` entry. IP literals are always allowed: rebinding needs a name.
 */
export function isAllowedHost(request: IncomingMessage, allowed: "any" | readonly string[], trustProxy: boolean): boolean {
  if (allowed === "any") return true;
  const host = requestHost(request, trustProxy);
  if (host === undefined || host === "") return false;
  let hostname: string;
  try {
    hostname = new URL(`http://${host}`).hostname;
  } catch {
    return false;
  }
  if (isIP(hostname.startsWith("[") ? hostname.slice(1, -1) : hostname) !== 0) return true;
  for (const entry of allowed) {
    if (entry.startsWith(".") ? hostname === entry.slice(1) || hostname.endsWith(entry) : hostname === entry) return true;
  }
  return false;
}

function firstValue(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return undefined;
  const comma = value.indexOf(",");
  return (comma === -1 ? value : value.slice(0, comma)).trim();
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

/**
 * The URL a connection keeps: one string shared by the connections of the same URL when it has no
 * query (a query is usually per client: a token, an id).
 */
export function requestUrl(url: string | undefined): string {
  if (url === undefined) return "/";
  return url.includes("?") ? url : shared(url);
}

function shared(value: string): string {
  const known = sharedValues.get(value);
  if (known !== undefined) return known;
  if (sharedValues.size < MAX_SHARED_VALUES && value.length <= MAX_SHARED_LENGTH) sharedValues.set(value, value);
  return value;
}
