import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import {
  MAX_OFFERED_PROTOCOLS,
  checkHandshake,
  isAllowedHost,
  isSameOrigin,
  parseProtocols,
  selectSubprotocol,
  isForwardableHeader,
  queryOf,
} from "../../core/upgrade/handshake.js";

function req(headers: Record<string, string>, method = "GET", version: [number, number] = [1, 1], encrypted = false): IncomingMessage {
  return { method, headers, httpVersionMajor: version[0], httpVersionMinor: version[1], socket: { encrypted } } as unknown as IncomingMessage;
}

function tls(headers: Record<string, string>): IncomingMessage {
  return req(headers, "GET", [1, 1], true);
}

const good = { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13", host: "a:1" };

describe("checkHandshake", () => {
  it("accepts a valid handshake with any casing and token lists", () => {
    expect(checkHandshake(req(good))).toBeNull();
    expect(checkHandshake(req({ ...good, upgrade: "WebSocket", connection: "keep-alive, Upgrade" }))).toBeNull();
  });
  it("refuses a non-GET with 405 and HTTP/1.0 with 400", () => {
    expect(checkHandshake(req(good, "POST"))?.status).toBe(405);
    expect(checkHandshake(req(good, "GET", [1, 0]))?.status).toBe(400);
  });
  it("refuses a missing Connection: upgrade token", () => {
    expect(checkHandshake(req({ ...good, connection: "keep-alive" }))?.status).toBe(400);
  });
  it("answers 426 with the supported version for other versions", () => {
    const refusal = checkHandshake(req({ ...good, "sec-websocket-version": "8" }));
    expect(refusal?.status).toBe(426);
    expect(refusal?.headers).toEqual({ "Sec-WebSocket-Version": "13" });
  });
  it("requires a key that decodes to 16 bytes", () => {
    for (const key of ["", "abc", "dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZSBub25jZR==", "dGhlIHNhbXBsZSBub25jZQ==, dGhlIHNhbXBsZSBub25jZQ=="]) {
      expect(checkHandshake(req({ ...good, "sec-websocket-key": key }))?.status, key).toBe(400);
    }
  });
});

describe("subprotocols", () => {
  it("picks by the server's preference, not the client's order", () => {
    expect(selectSubprotocol("b, a", ["a", "b"])).toBe("a");
    expect(selectSubprotocol(undefined, ["a"])).toBeNull();
  });
  it("refuses an offer with no supported protocol, naming the supported ones", () => {
    const refusal = selectSubprotocol("x, y", ["a", "b"]);
    expect(refusal).toMatchObject({ status: 400, reason: "subprotocol" });
    expect((refusal as { body: string }).body).toContain("supported: a, b");
  });
  it("refuses malformed or duplicated lists", () => {
    expect(parseProtocols("a,,b")).toBeNull();
    expect(parseProtocols("a, a")).toBeNull();
    expect(parseProtocols("a b")).toBeNull();
    expect(parseProtocols("chat.v1, chat.v2")).toEqual(["chat.v1", "chat.v2"]);
  });
  it("refuses more than MAX_OFFERED_PROTOCOLS tokens, and parses a long list in linear time", () => {
    const list = (n: number) => Array.from({ length: n }, (_, i) => `p${i}`).join(", ");
    expect(parseProtocols(list(MAX_OFFERED_PROTOCOLS))).toHaveLength(MAX_OFFERED_PROTOCOLS);
    expect(parseProtocols(list(MAX_OFFERED_PROTOCOLS + 1))).toBeNull();
    // 5,000 distinct tokens were quadratic (a duplicate check by array scan); now refused after 64 looks.
    expect(selectSubprotocol(list(5_000), ["chat"])).toMatchObject({ status: 400, reason: "subprotocol" });
  });
});

describe("origin", () => {
  it("allows a missing Origin and a same-host Origin, case-insensitively", () => {
    expect(isSameOrigin(req({ host: "example.com:8080" }))).toBe(true);
    expect(isSameOrigin(req({ host: "Example.com:8080", origin: "https://example.COM:8080" }))).toBe(true);
  });
  it("refuses another host, another port, a null or malformed Origin", () => {
    expect(isSameOrigin(req({ host: "example.com", origin: "https://evil.com" }))).toBe(false);
    expect(isSameOrigin(req({ host: "example.com:8080", origin: "https://example.com:9090" }))).toBe(false);
    expect(isSameOrigin(req({ host: "example.com", origin: "null" }))).toBe(false);
    expect(isSameOrigin(req({ host: "example.com", origin: "::::" }))).toBe(false);
  });
  it("normalises default ports: Host with :443 or :80 is the origin without a port", () => {
    expect(isSameOrigin(req({ host: "example.com:443", origin: "https://example.com" }))).toBe(true);
    expect(isSameOrigin(req({ host: "example.com:80", origin: "http://example.com" }))).toBe(true);
    expect(isSameOrigin(req({ host: "example.com", origin: "https://example.com:443" }))).toBe(true);
    expect(isSameOrigin(req({ host: "example.com:443", origin: "http://example.com" }))).toBe(false);
  });
  it("on a TLS connection, refuses an http:// page; on plain HTTP behind an unknown proxy, accepts both schemes", () => {
    expect(isSameOrigin(tls({ host: "example.com", origin: "https://example.com" }))).toBe(true);
    expect(isSameOrigin(tls({ host: "example.com", origin: "http://example.com" }))).toBe(false);
    expect(isSameOrigin(req({ host: "example.com", origin: "https://example.com" }))).toBe(true);
    expect(isSameOrigin(req({ host: "example.com", origin: "http://example.com" }))).toBe(true);
  });
  it("believes X-Forwarded-Proto and X-Forwarded-Host only with trustProxy", () => {
    const proxied = { host: "backend:3000", "x-forwarded-host": "example.com", "x-forwarded-proto": "https" };
    expect(isSameOrigin(req({ ...proxied, origin: "https://example.com" }), true)).toBe(true);
    expect(isSameOrigin(req({ ...proxied, origin: "http://example.com" }), true)).toBe(false);
    expect(isSameOrigin(req({ ...proxied, origin: "https://example.com" }), false)).toBe(false);
    expect(isSameOrigin(req({ host: "example.com", "x-forwarded-proto": "https", origin: "http://example.com" }), false)).toBe(true);
  });
  it("refuses non-web origins and hosts that smuggle a path or credentials", () => {
    expect(isSameOrigin(req({ host: "example.com", origin: "file://example.com" }))).toBe(false);
    expect(isSameOrigin(req({ host: "example.com/evil", origin: "https://example.com" }))).toBe(false);
    expect(isSameOrigin(req({ host: "user@example.com", origin: "https://example.com" }))).toBe(false);
  });
});

describe("allowed hosts (DNS rebinding)", () => {
  it("lets any host through by default", () => {
    expect(isAllowedHost(req({ host: "rebound.attacker.test:8080" }), "any", false)).toBe(true);
  });
  it("refuses a name not in the list even when Origin matches Host, and allows listed names, subdomains and IP literals", () => {
    const allowed = ["app.example.com", ".internal.example"];
    expect(isAllowedHost(req({ host: "rebound.attacker.test:8080", origin: "http://rebound.attacker.test:8080" }), allowed, false)).toBe(false);
    expect(isAllowedHost(req({ host: "APP.example.com:443" }), allowed, false)).toBe(true);
    expect(isAllowedHost(req({ host: "internal.example" }), allowed, false)).toBe(true);
    expect(isAllowedHost(req({ host: "a.b.internal.example" }), allowed, false)).toBe(true);
    expect(isAllowedHost(req({ host: "evilinternal.example" }), allowed, false)).toBe(false);
    expect(isAllowedHost(req({ host: "127.0.0.1:3000" }), allowed, false)).toBe(true);
    expect(isAllowedHost(req({ host: "[::1]:3000" }), allowed, false)).toBe(true);
    expect(isAllowedHost(req({}), allowed, false)).toBe(false);
  });
  it("reads X-Forwarded-Host only with trustProxy", () => {
    const headers = { host: "127.0.0.1:3000", "x-forwarded-host": "rebound.attacker.test" };
    expect(isAllowedHost(req(headers), ["app.example.com"], true)).toBe(false);
    expect(isAllowedHost(req(headers), ["app.example.com"], false)).toBe(true);
  });
});

describe("helpers", () => {
  it("forwards ordinary headers but not hop-by-hop or handshake ones", () => {
    expect(isForwardableHeader("Set-Cookie")).toBe(true);
    for (const name of ["Connection", "upgrade", "Content-Length", "Sec-WebSocket-Accept", "transfer-encoding"]) expect(isForwardableHeader(name)).toBe(false);
  });
  it("parses the query keeping first values", () => {
    expect(queryOf("/x?a=1&b=2&a=3")).toEqual({ a: "1", b: "2" });
    expect(queryOf("/x")).toEqual({});
  });
});
