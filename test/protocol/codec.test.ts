import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decode,
  decodeWhole,
  MAX_NESTING,
  peekEventHead,
  encodeAck,
  encodeAckError,
  encodeError,
  encodeEvent,
  encodeWelcome,
  ENVELOPE_PREFIX,
  isEnvelope,
  isEventName,
  MAX_ACK_ID,
  MAX_EVENT_NAME_LENGTH,
  peekAckId,
  toErrorPayload,
} from "../../core/protocol/index.js";

/** Characters allowed in event names: printable ASCII except `"` and `\`. */
const NAME_CHARS = Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) => String.fromCharCode(0x21 + i)).filter(
  (c) => c !== '"' && c !== "\\",
);
const eventName = fc.string({ unit: fc.constantFrom(...NAME_CHARS), minLength: 1, maxLength: MAX_EVENT_NAME_LENGTH });
const ackId = fc.integer({ min: 0, max: MAX_ACK_ID });
const json = fc.jsonValue({ stringUnit: "binary" });
/** What a JSON value looks like after a trip through JSON text (e.g. -0 becomes 0). */
const viaJson = (value: unknown): unknown => JSON.parse(JSON.stringify(value));
/** Any string, including lone surrogates and control characters. */
const anyString = fc.string({ unit: "binary", maxLength: 300 });

describe("protocol: encoding examples (docs/protocol.md)", () => {
  it("encodes every message type as the documented text", () => {
    expect(encodeEvent("chat:message", { text: "hi" })).toBe('wsm1["e","chat:message",{"text":"hi"}]');
    expect(encodeEvent("ping")).toBe('wsm1["e","ping"]');
    expect(encodeEvent("ping", null)).toBe('wsm1["e","ping",null]');
    expect(encodeEvent("rooms:join", "lobby", 7)).toBe('wsm1["c",7,"rooms:join","lobby"]');
    expect(encodeEvent("time", undefined, 0)).toBe('wsm1["c",0,"time"]');
    expect(encodeAck(7, { members: 3 })).toBe('wsm1["a",7,{"members":3}]');
    expect(encodeAck(7)).toBe('wsm1["a",7]');
    expect(encodeAckError(7, { message: "no such room", code: "E_ROOM" })).toBe(
      'wsm1["x",7,{"message":"no such room","code":"E_ROOM"}]',
    );
    expect(encodeError("ERR_WSMOUNT_INVALID_ENVELOPE", "bad-json")).toBe(
      'wsm1["!",{"code":"ERR_WSMOUNT_INVALID_ENVELOPE","message":"bad-json"}]',
    );
    expect(encodeWelcome("c-42")).toBe('wsm1["w",{"id":"c-42"}]');
  });

  it("sends only message and string code of an Error, never its stack", () => {
    const error = Object.assign(new Error("db down"), { code: "E_DB", detail: "secret" });
    const text = encodeAckError(1, error);
    expect(text).toBe('wsm1["x",1,{"message":"db down","code":"E_DB"}]');
    expect(encodeAckError(1, Object.assign(new Error("x"), { code: 5 }) as never)).toBe(
      'wsm1["x",1,{"message":"x"}]',
    );
  });

  it("turns any thrown value into an error payload", () => {
    expect(toErrorPayload(Object.assign(new TypeError("bad"), { code: "E1" }))).toEqual({ message: "bad", code: "E1" });
    expect(toErrorPayload("plain")).toEqual({ message: "plain" });
    expect(toErrorPayload({ code: "E2" })).toEqual({ message: "Error", code: "E2" });
    expect(toErrorPayload(null)).toEqual({ message: "null" });
  });

  it("refuses invalid names and ack ids with a TypeError", () => {
    for (const name of ["", "has space", 'quo"te', "back\\slash", "é", "x".repeat(MAX_EVENT_NAME_LENGTH + 1)]) {
      expect(() => encodeEvent(name)).toThrow(TypeError);
    }
    for (const id of [-1, 1.5, MAX_ACK_ID + 1, Number.NaN]) {
      expect(() => encodeEvent("ok", 1, id)).toThrow(TypeError);
      expect(() => encodeAck(id)).toThrow(TypeError);
      expect(() => encodeAckError(id, { message: "m" })).toThrow(TypeError);
    }
    expect(() => encodeEvent("x".repeat(MAX_EVENT_NAME_LENGTH))).not.toThrow();
  });

  it("lets JSON.stringify errors reach the caller", () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(() => encodeEvent("x", cycle)).toThrow(TypeError);
    expect(() => encodeAck(1, 10n)).toThrow(TypeError);
  });
});

describe("protocol: decoding", () => {
  it("decodes every message type", () => {
    expect(decode('wsm1["e","chat",{"text":"hi"}]')).toEqual({
      kind: "event",
      name: "chat",
      data: { text: "hi" },
      ackId: undefined,
    });
    expect(decode('wsm1["c",9,"join","lobby"]')).toEqual({ kind: "event", name: "join", data: "lobby", ackId: 9 });
    expect(decode('wsm1["a",9]')).toEqual({ kind: "ack", ackId: 9, result: undefined });
    expect(decode('wsm1["a",9,null]')).toEqual({ kind: "ack", ackId: 9, result: null });
    expect(decode('wsm1["x",9,{"message":"m"}]')).toEqual({
      kind: "ackError",
      ackId: 9,
      error: { message: "m", code: undefined },
    });
    expect(decode('wsm1["!",{"code":"C","message":"m","extra":1}]')).toEqual({ kind: "error", code: "C", message: "m" });
    expect(decode('wsm1["w",{"id":"abc","future":true}]')).toEqual({ kind: "welcome", id: "abc" });
  });

  it("accepts JSON whitespace, as other languages' serializers write it", () => {
    expect(decode('wsm1 [ "c" , 3 , "a" , { "k" : [ 1 , 2 ] } ]\n')).toEqual({
      kind: "event",
      name: "a",
      data: { k: [1, 2] },
      ackId: 3,
    });
  });

  it("classifies malformed envelopes with a reason, keeping a readable call id", () => {
    const cases: Array<[string, string, number | undefined]> = [
      ["wsm1", "bad-json", undefined],
      ["wsm1[", "bad-json", undefined],
      ["wsm1 hello", "bad-json", undefined],
      ['wsm1{"e":1}', "bad-shape", undefined],
      ["wsm1[]", "bad-shape", undefined],
      ["wsm1[1]", "bad-shape", undefined],
      ['wsm1["e"]', "bad-shape", undefined],
      ['wsm1["e","a",1,2]', "bad-shape", undefined],
      ['wsm1["e",5]', "bad-name", undefined],
      ['wsm1["e","a b"]', "bad-name", undefined],
      ['wsm1["z","a"]', "unknown-type", undefined],
      ['wsm1["c",-1,"a"]', "bad-ack-id", undefined],
      ['wsm1["c",1.5,"a"]', "bad-ack-id", undefined],
      ['wsm1["c","1","a"]', "bad-ack-id", undefined],
      [`wsm1["c",${MAX_ACK_ID + 1},"a"]`, "bad-ack-id", undefined],
      ['wsm1["c",4,""]', "bad-name", 4],
      ['wsm1["c",4]', "bad-shape", 4],
      ['wsm1["c",4,"a",1,2]', "bad-shape", 4],
      ['wsm1["a"]', "bad-shape", undefined],
      ['wsm1["a",-3]', "bad-ack-id", undefined],
      ['wsm1["x",1,"oops"]', "bad-shape", undefined],
      ['wsm1["x",1,{"message":1}]', "bad-shape", undefined],
      ['wsm1["x",1,{"message":"m","code":7}]', "bad-shape", undefined],
      ['wsm1["x",1,["message"]]', "bad-shape", undefined],
      ['wsm1["!",{"code":"C"}]', "bad-shape", undefined],
      ['wsm1["!","C","m"]', "bad-shape", undefined],
      ['wsm1["w",{"id":1}]', "bad-shape", undefined],
      ['wsm1["w",null]', "bad-shape", undefined],
      ['wsm2["e","a"]', "unsupported-version", undefined],
      ["wsm0", "unsupported-version", undefined],
      ["wsm9 whatever", "unsupported-version", undefined],
    ];
    for (const [text, reason, id] of cases) {
      expect(decode(text), text).toEqual({ kind: "invalid", reason, ackId: id });
    }
  });

  it("classifies text that does not start with wsm and a digit as raw, and binary data as raw", () => {
    for (const text of ["", "w", "wsm", "wsmx[]", "WSM1[]", " wsm1[]", '["e","a"]', '{"event":"x"}', "hello"]) {
      expect(decode(text).kind, text).toBe("raw");
      expect(isEnvelope(text)).toBe(false);
    }
    expect(decode(new Uint8Array([0x77, 0x73, 0x6d, 0x31])).kind).toBe("raw");
    expect(decode(undefined).kind).toBe("raw");
    expect(isEnvelope("wsm1")).toBe(true);
    expect(isEnvelope("wsm7 anything")).toBe(true);
  });

  it("survives pathological JSON: deep nesting, huge numbers, __proto__ keys", () => {
    const depth = 100_000;
    // Deeper than MAX_NESTING: refused before JSON.parse, which would spend most of a second on it.
    expect(decode(`wsm1["e","a",${"[".repeat(depth)}${"]".repeat(depth)}]`)).toEqual({ kind: "invalid", reason: "too-deep", ackId: undefined });
    expect(decode(`wsm1["c",9,"a",${"{\"k\":".repeat(depth)}1${"}".repeat(depth)}]`)).toEqual({ kind: "invalid", reason: "too-deep", ackId: 9 });
    expect(decode(`wsm1${"[".repeat(depth)}`)).toEqual({ kind: "invalid", reason: "too-deep", ackId: undefined });
    expect(decodeWhole(`wsm1["e","a",${"[".repeat(depth)}${"]".repeat(depth)}]`).kind).toBe("event");
    // The envelope's own array counts: MAX_NESTING - 1 levels of data are fine, one more is not.
    const nested = (levels: number) => `wsm1["e","a",${"[".repeat(levels)}${"]".repeat(levels)}]`;
    expect(decode(nested(MAX_NESTING - 1)).kind).toBe("event");
    expect(decode(nested(MAX_NESTING))).toMatchObject({ kind: "invalid", reason: "too-deep" });
    // Brackets inside strings, escaped quotes included, are not nesting.
    const inString = JSON.stringify("[{".repeat(1000) + '\\"' + "[".repeat(100));
    expect(decode(`wsm1["e","a",${inString}]`).kind).toBe("event");
    expect(decode('wsm1["a",1e400]')).toEqual({ kind: "invalid", reason: "bad-ack-id", ackId: undefined });
    const proto = decode('wsm1["x",1,{"__proto__":{"message":"m"}}]');
    expect(proto).toEqual({ kind: "invalid", reason: "bad-shape", ackId: undefined });
    expect(({} as Record<string, unknown>).message).toBeUndefined();
  });

  it("peeks the name of an event or a call without parsing the message", () => {
    const tail = JSON.stringify("x".repeat(10_000));
    expect(peekEventHead(`wsm1["e","chat:message",${tail}]`)).toEqual({ name: "chat:message", ackId: undefined });
    expect(peekEventHead(`wsm1 [ "c" , 42 , "upload" , ${tail}]`)).toEqual({ name: "upload", ackId: 42 });
    for (const text of [
      `wsm1["e","na\\u006de",${tail}]`, // an escape: left to the parser
      `wsm1["a",1,${tail}]`,
      `wsm1["e",${tail}]`, // a name too long to be one
      `wsm2["e","a",1]`,
      `raw text`,
    ]) {
      expect(peekEventHead(text), text.slice(0, 30)).toBeUndefined();
    }
  });

  it("peeks the ack id of a call without parsing the message", () => {
    expect(peekAckId(`wsm1["c",42,"upload","${"x".repeat(10_000)}`)).toBe(42);
    expect(peekAckId('wsm1 [ "c" , 7 , "a"]')).toBe(7);
    expect(peekAckId('wsm1["c",0]')).toBe(0);
    expect(peekAckId(`wsm1["c",${MAX_ACK_ID},"a"]`)).toBe(MAX_ACK_ID);
    for (const text of [
      'wsm1["e","a"]',
      'wsm1["c","1","a"]',
      'wsm1["c",-1,"a"]',
      'wsm1["c",1.5,"a"]',
      'wsm1["c",1e3,"a"]',
      `wsm1["c",${MAX_ACK_ID + 1},"a"]`,
      'wsm1["c",12',
      'wsm2["c",1,"a"]',
      "hello",
      `wsm1[${" ".repeat(300)}"c",1,"a"]`,
    ]) {
      expect(peekAckId(text), text).toBeUndefined();
    }
  });
});

describe("protocol: properties", () => {
  it("round-trips events for any valid name and JSON data, with and without an ack id", () => {
    fc.assert(
      fc.property(eventName, fc.option(json, { nil: undefined }), fc.option(ackId, { nil: undefined }), (name, data, id) => {
        const text = encodeEvent(name, data, id);
        expect(text.startsWith(ENVELOPE_PREFIX)).toBe(true);
        expect(decode(text)).toEqual({
          kind: "event",
          name,
          data: data === undefined ? undefined : viaJson(data),
          ackId: id,
        });
        if (id !== undefined) expect(peekAckId(text)).toBe(id);
      }),
      { numRuns: 400 },
    );
  });

  it("round-trips ack results and ack errors", () => {
    fc.assert(
      fc.property(ackId, fc.option(json, { nil: undefined }), (id, result) => {
        expect(decode(encodeAck(id, result))).toEqual({
          kind: "ack",
          ackId: id,
          result: result === undefined ? undefined : viaJson(result),
        });
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(ackId, anyString, fc.option(anyString, { nil: undefined }), (id, message, code) => {
        expect(decode(encodeAckError(id, { message, code }))).toEqual({
          kind: "ackError",
          ackId: id,
          error: { message: viaJson(message), code: code === undefined ? undefined : viaJson(code) },
        });
      }),
      { numRuns: 300 },
    );
  });

  it("round-trips error notices and welcomes for any strings", () => {
    fc.assert(
      fc.property(anyString, anyString, (code, message) => {
        expect(decode(encodeError(code, message))).toEqual({
          kind: "error",
          code: viaJson(code),
          message: viaJson(message),
        });
        expect(decode(encodeWelcome(code))).toEqual({ kind: "welcome", id: viaJson(code) });
      }),
      { numRuns: 300 },
    );
  });

  it("never throws on arbitrary strings, with or without the envelope prefix", () => {
    const kinds = new Set(["raw", "event", "ack", "ackError", "error", "welcome", "invalid"]);
    fc.assert(
      fc.property(fc.oneof(anyString, anyString.map((s) => ENVELOPE_PREFIX + s), fc.json().map((s) => ENVELOPE_PREFIX + s)), (text) => {
        const result = decode(text);
        expect(kinds.has(result.kind)).toBe(true);
        peekAckId(text);
      }),
      { numRuns: 2000 },
    );
  });

  it("never throws on arbitrary JSON arrays behind the prefix", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constantFrom("e", "c", "a", "x", "!", "w"), json), { maxLength: 5 }), (items) => {
        const result = decode(ENVELOPE_PREFIX + JSON.stringify(items));
        expect(result.kind).not.toBe("raw");
      }),
      { numRuns: 1000 },
    );
  });

  it("classifies as raw every text that does not start with wsm and a digit", () => {
    const notReserved = anyString.filter((s) => !/^wsm[0-9]/.test(s));
    fc.assert(
      fc.property(notReserved, (text) => {
        expect(decode(text).kind).toBe("raw");
        expect(isEnvelope(text)).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });

  it("agrees with the documented name rule for any string", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary-ascii", maxLength: 140 }), (name) => {
        const expected =
          name.length >= 1 &&
          name.length <= MAX_EVENT_NAME_LENGTH &&
          [...name].every((c) => c >= "!" && c <= "~" && c !== '"' && c !== "\\");
        expect(isEventName(name)).toBe(expected);
      }),
      { numRuns: 1000 },
    );
  });
});
