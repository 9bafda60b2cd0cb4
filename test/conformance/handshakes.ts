/**
 * Malformed opening handshakes: a model of a request, the mutations that make it invalid, the
 * mutations that leave its validity alone, and the check that a server's answer to an invalid
 * one is harmless (a well-formed HTTP error, or a clean close; never a 101).
 */
import fc from "fast-check";
import { randomBytes } from "node:crypto";
import { expect } from "vitest";
import { randomKey, type RawExchange } from "../helpers/raw-client.js";

/** An HTTP/1.x request as lines, before serialisation. */
export interface RequestModel {
  method: string;
  target: string;
  version: string;
  /** Header lines in order; a `[name, value]` pair or a raw line written as is. */
  headers: Array<[string, string] | string>;
}

/** A valid RFC 6455 §4.1 handshake for /echo. */
export function validRequest(port: number): RequestModel {
  return {
    method: "GET",
    target: "/echo",
    version: "HTTP/1.1",
    headers: [
      ["Host", `127.0.0.1:${port}`],
      ["Upgrade", "websocket"],
      ["Connection", "Upgrade"],
      ["Sec-WebSocket-Key", randomKey()],
      ["Sec-WebSocket-Version", "13"],
    ],
  };
}

/** Serialise with CRLF line ends and the final blank line. */
export function serialise(request: RequestModel): string {
  const lines = [`${request.method} ${request.target} ${request.version}`];
  for (const header of request.headers) lines.push(typeof header === "string" ? header : `${header[0]}: ${header[1]}`);
  return lines.join("\r\n") + "\r\n\r\n";
}

/** A change to a request. */
export type Mutation = { name: string; apply: (request: RequestModel) => void };

const isHeader = (header: [string, string] | string, name: string): boolean =>
  typeof header !== "string" && header[0].toLowerCase() === name.toLowerCase();

function setHeader(request: RequestModel, name: string, value: string): void {
  const found = request.headers.find((h) => isHeader(h, name));
  if (found && typeof found !== "string") found[1] = value;
  else request.headers.push([name, value]);
}

function removeHeader(request: RequestModel, name: string): void {
  request.headers = request.headers.filter((h) => !isHeader(h, name));
}

/**
 * Named invalid handshakes with the statuses an endpoint may answer (empty list: a clean close
 * with no response is also acceptable). RFC 6455 §4.2.1 lists what the server must check.
 */
export const INVALID_HANDSHAKES: Array<{ name: string; mutate: (r: RequestModel) => void; statuses: number[] }> = [
  { name: "POST instead of GET", mutate: (r) => void (r.method = "POST"), statuses: [400, 404, 405] },
  { name: "HEAD instead of GET", mutate: (r) => void (r.method = "HEAD"), statuses: [400, 404, 405, 426] },
  { name: "lower-case method 'get'", mutate: (r) => void (r.method = "get"), statuses: [400] },
  { name: "HTTP/1.0", mutate: (r) => void (r.version = "HTTP/1.0"), statuses: [400, 426, 505] },
  { name: "HTTP/0.9", mutate: (r) => void (r.version = "HTTP/0.9"), statuses: [400, 505] },
  { name: "no Host", mutate: (r) => removeHeader(r, "Host"), statuses: [400] },
  // Not WebSocket requests at all: the route's 426, or (node:http style) the application's own 404.
  { name: "no Upgrade header", mutate: (r) => removeHeader(r, "Upgrade"), statuses: [400, 404, 426] },
  { name: "Upgrade: h2c", mutate: (r) => setHeader(r, "Upgrade", "h2c"), statuses: [400, 404, 426] },
  // The duplicate mutations add two lines, so that a request stays invalid when another mutation removed the
  // header first (one line pushed after a removal would make a valid handshake again).
  { name: "Upgrade: websocket twice", mutate: (r) => r.headers.push(["Upgrade", "websocket"], ["Upgrade", "websocket"]), statuses: [400] },
  { name: "Connection without the upgrade token", mutate: (r) => setHeader(r, "Connection", "keep-alive"), statuses: [400, 404, 426] },
  { name: "no Sec-WebSocket-Key", mutate: (r) => removeHeader(r, "Sec-WebSocket-Key"), statuses: [400] },
  { name: "empty Sec-WebSocket-Key", mutate: (r) => setHeader(r, "Sec-WebSocket-Key", ""), statuses: [400] },
  { name: "Sec-WebSocket-Key of 15 bytes", mutate: (r) => setHeader(r, "Sec-WebSocket-Key", randomBytes(15).toString("base64")), statuses: [400] },
  { name: "Sec-WebSocket-Key of 17 bytes", mutate: (r) => setHeader(r, "Sec-WebSocket-Key", randomBytes(17).toString("base64")), statuses: [400] },
  { name: "Sec-WebSocket-Key not base64", mutate: (r) => setHeader(r, "Sec-WebSocket-Key", "!!!!not base64!!!!!!!=="), statuses: [400] },
  { name: "two Sec-WebSocket-Key headers", mutate: (r) => r.headers.push(["Sec-WebSocket-Key", randomKey()], ["Sec-WebSocket-Key", randomKey()]), statuses: [400] },
  { name: "no Sec-WebSocket-Version", mutate: (r) => removeHeader(r, "Sec-WebSocket-Version"), statuses: [400, 426] },
  { name: "Sec-WebSocket-Version: 14", mutate: (r) => setHeader(r, "Sec-WebSocket-Version", "14"), statuses: [400, 426] },
  { name: "Sec-WebSocket-Version: abc", mutate: (r) => setHeader(r, "Sec-WebSocket-Version", "abc"), statuses: [400, 426] },
  { name: "two Sec-WebSocket-Version headers", mutate: (r) => r.headers.push(["Sec-WebSocket-Version", "13"], ["Sec-WebSocket-Version", "13"]), statuses: [400, 426] },
  { name: "unknown path", mutate: (r) => void (r.target = "/no-such-endpoint"), statuses: [400, 404] },
  { name: "header of 20 KB", mutate: (r) => r.headers.push(["X-Huge", "a".repeat(20_000)]), statuses: [431] },
  { name: "3,000 small headers", mutate: (r) => r.headers.push(...Array.from({ length: 3000 }, (_, i): [string, string] => [`X-H${i}`, "v"])), statuses: [431] },
  { name: "header name with a space", mutate: (r) => r.headers.push("Bad Header: x"), statuses: [400] },
  { name: "header line without a colon", mutate: (r) => r.headers.push("NoColonHere"), statuses: [400] },
  { name: "header line with an empty name", mutate: (r) => r.headers.push(": value"), statuses: [400] },
  { name: "NUL byte in a header value", mutate: (r) => r.headers.push("X-Nul: a\u0000b"), statuses: [400] },
  { name: "garbage request line", mutate: (r) => void (r.method = "\u0001\u0002GARBAGE"), statuses: [400] },
];

const token = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,24}$/);
const fieldValue = fc.stringMatching(/^[\x21-\x7e]([\x20-\x7e]{0,80}[\x21-\x7e])?$/);
const STANDARD = ["Host", "Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Version"];
// Headers whose presence changes request framing or policy; random ones must not be these
// (x-deny and x-stall are the fixtures' own refusal and stall switches).
const RESERVED = /^(host|upgrade|connection|content-length|transfer-encoding|expect|origin|sec-websocket-.*|x-deny|x-stall)$/i;

/** Mutations that never make a valid handshake invalid. */
export const harmlessMutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(token, fieldValue).filter(([name]) => !RESERVED.test(name)).map(([name, value]): Mutation => ({
    name: `add header ${name}`,
    apply: (r) => r.headers.push([name, value]),
  })),
  fc.tuple(fc.constantFrom("Host", "X-Repeated"), fieldValue).map(([name, value]): Mutation => ({
    // Node keeps the first Host and joins other repeated headers: neither changes validity.
    name: `duplicate ${name}`,
    apply: (r) => {
      if (name === "X-Repeated") r.headers.push([name, value], [name, value]);
      else r.headers.push(["Host", "other.example"]);
    },
  })),
  fc.tuple(fc.constantFrom(...STANDARD), fc.infiniteStream(fc.boolean())).map(([name, flips]): Mutation => ({
    name: `recase ${name}`,
    apply: (r) => {
      const header = r.headers.find((h) => isHeader(h, name));
      if (header && typeof header !== "string") {
        header[0] = [...header[0]].map((c) => (flips.next().value ? c.toUpperCase() : c.toLowerCase())).join("");
      }
    },
  })),
  fc.nat().map((seed): Mutation => ({
    name: "reorder headers",
    apply: (r) => {
      r.headers = r.headers.map((h, i) => [h, (i * 7919 + seed) % 101] as const).sort((a, b) => a[1] - b[1]).map(([h]) => h);
    },
  })),
  fc.constant<Mutation>({ name: "Upgrade value in capitals", apply: (r) => setHeader(r, "Upgrade", "WebSocket") }),
  fc.constant<Mutation>({ name: "Connection with more tokens", apply: (r) => setHeader(r, "Connection", "keep-alive, Upgrade") }),
);

/** Mutations of which any one makes a handshake invalid. */
export const fatalMutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.constantFrom(...INVALID_HANDSHAKES.map(({ name, mutate }): Mutation => ({ name, apply: mutate }))),
  fc.constantFrom("POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT", "FOO").map((method): Mutation => ({
    name: `method ${method}`,
    apply: (r) => void (r.method = method),
  })),
  fc.constantFrom("", "0", "7", "12", "14", "99", "13, 14", "1.3", "٣١").map((version): Mutation => ({
    name: `version header ${JSON.stringify(version)}`,
    apply: (r) => setHeader(r, "Sec-WebSocket-Version", version),
  })),
  fc.oneof(
    fc.uint8Array({ minLength: 0, maxLength: 40 }).filter((a) => a.length !== 16).map((a) => Buffer.from(a).toString("base64")),
    fc.stringMatching(/^[A-Za-z0-9+/]{1,30}$/).filter((s) => s.length !== 22 && s.length !== 24),
  ).map((key): Mutation => ({ name: `key ${JSON.stringify(key)}`, apply: (r) => setHeader(r, "Sec-WebSocket-Key", key) })),
  fc.integer({ min: 17_000, max: 64_000 }).map((size): Mutation => ({
    name: `header of ${size} bytes`,
    apply: (r) => r.headers.push(["X-Large", "x".repeat(size)]),
  })),
  fc.constantFrom("h2c", "websocket2", "web socket", "websocket/13").map((upgrade): Mutation => ({
    name: `Upgrade ${upgrade}`,
    apply: (r) => setHeader(r, "Upgrade", upgrade),
  })),
);

/**
 * An invalid request: 0-6 harmless mutations, then 1-3 fatal ones (after, so that a harmless
 * mutation cannot undo a fatal one, e.g. by setting Upgrade back to websocket).
 */
export function invalidRequest(port: number): fc.Arbitrary<{ request: string; mutations: string[] }> {
  return fc
    .tuple(fc.array(harmlessMutation, { maxLength: 6 }), fc.array(fatalMutation, { minLength: 1, maxLength: 3 }))
    .map(([harmless, fatal]) => {
      const mutations = [...harmless, ...fatal];
      const request = validRequest(port);
      for (const mutation of mutations) mutation.apply(request);
      return { request: serialise(request), mutations: mutations.map((m) => m.name) };
    });
}

/** A valid request with 0-6 harmless mutations. */
export function validVariant(port: number): fc.Arbitrary<{ request: string; mutations: string[] }> {
  return fc.array(harmlessMutation, { maxLength: 6 }).map((mutations) => {
    const request = validRequest(port);
    for (const mutation of mutations) mutation.apply(request);
    return { request: serialise(request), mutations: mutations.map((m) => m.name) };
  });
}

/**
 * The answer to an invalid handshake is harmless: either nothing and a close (FIN), or one
 * well-formed HTTP response (status line, headers, a body matching Content-Length) that is an
 * error for a GET (for other methods the framework may answer as for plain HTTP, e.g. Express
 * answers OPTIONS with 200 and Allow). Never a 101.
 * A reset is tolerated only when the request itself was larger than any server reads
 * (Node closes a socket with unread bytes, which the kernel turns into a reset).
 */
export function expectHarmlessAnswer(exchange: RawExchange, request: string, allowed?: number[]): void {
  const requestBytes = Buffer.byteLength(request);
  const isHead = request.startsWith("HEAD ");
  const text = exchange.bytes.toString("latin1");
  const context = `answer: ${JSON.stringify(text.slice(0, 200))} (${exchange.ending})`;
  expect(text.startsWith("HTTP/1.1 101"), context).toBe(false);
  if (exchange.ending === "reset") {
    expect(requestBytes, `reset for a small request; ${context}`).toBeGreaterThan(16 * 1024);
    return;
  }
  expect(exchange.ending, context).not.toBe("timeout");
  if (exchange.bytes.length === 0) {
    expect(exchange.ending, context).toBe("end");
    return;
  }
  expect(exchange.head, `well-formed head; ${context}`).toBeDefined();
  const head = exchange.head;
  if (!head) return;
  expect(head.statusCode, context).toBeGreaterThanOrEqual(request.startsWith("GET ") ? 400 : 200);
  expect(head.statusCode, context).toBeLessThan(600);
  if (allowed) expect(allowed, context).toContain(head.statusCode);
  const length = head.headers.get("content-length");
  if (length !== undefined && !isHead) {
    expect(length.length, `one Content-Length; ${context}`).toBe(1);
    expect(exchange.body.length, `body length; ${context}`).toBe(Number(length[0]));
  }
}
