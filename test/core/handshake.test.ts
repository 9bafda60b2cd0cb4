import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { checkHandshake, isSameOrigin, parseProtocols, selectSubprotocol, isForwardableHeader, queryOf } from "../../core/upgrade/handshake.js";

function req(headers: Record<string, string>, method = "GET", version: [number, number] = [1, 1]): IncomingMessage {
  return { method, headers, httpVersionMajor: version[0], httpVersionMinor: version[1] } as unknown as IncomingMessage;
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
