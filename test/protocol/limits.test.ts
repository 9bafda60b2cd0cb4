/**
 * The decoder refuses an envelope whose event name or ack id is over the limits from its first
 * characters, without parsing a large rest, and decides exactly what a full parse would.
 */
import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ENVELOPE_PREFIX, MAX_ACK_ID, MAX_EVENT_NAME_LENGTH, decode } from "../../core/protocol/index.js";

const big = JSON.stringify({ blob: "x".repeat(1 << 20) });
const long = "n".repeat(MAX_EVENT_NAME_LENGTH + 1);

describe("refused from the header", () => {
  afterEach(() => vi.restoreAllMocks());

  it("answers a too-long event name or an over-sized ack id without parsing the payload", () => {
    const parse = vi.spyOn(JSON, "parse");
    const cases: Array<[string, string, number | undefined]> = [
      [`wsm1["e","${long}",${big}]`, "bad-name", undefined],
      [`wsm1 [ "c" , 7 , "${long}${"m".repeat(10_000)}" , ${big}]`, "bad-name", 7],
      [`wsm1["c",${MAX_ACK_ID + 1},"a",${big}]`, "bad-ack-id", undefined],
      [`wsm1["c",${"9".repeat(400)},"a",${big}]`, "bad-ack-id", undefined],
      [`wsm1["a",${MAX_ACK_ID + 1},${big}]`, "bad-ack-id", undefined],
      [`wsm1["x",123456789012,{"message":"${"m".repeat(1000)}"}]`, "bad-ack-id", undefined],
    ];
    for (const [text, reason, ackId] of cases) expect(decode(text), text.slice(0, 60)).toEqual({ kind: "invalid", reason, ackId });
    expect(parse).not.toHaveBeenCalled();
  });

  it("leaves to the parser what the header alone cannot decide", () => {
    const parse = vi.spyOn(JSON, "parse");
    // A name of exactly the longest length, an escaped name, an exponent: all valid.
    expect(decode(`wsm1["e","${"n".repeat(MAX_EVENT_NAME_LENGTH)}",1]`)).toMatchObject({ kind: "event" });
    expect(decode(`wsm1["c",1,"\\u0061",1]`)).toEqual({ kind: "event", name: "a", data: 1, ackId: 1 });
    expect(decode(`wsm1["c",1e3,"a"]`)).toEqual({ kind: "event", name: "a", data: undefined, ackId: 1000 });
    expect(decode(`wsm1["a",${MAX_ACK_ID}]`)).toEqual({ kind: "ack", ackId: MAX_ACK_ID, result: undefined });
    expect(parse).toHaveBeenCalledTimes(4);
  });

  it("decides as a full parse does, for any JSON array behind the prefix", () => {
    // Whitespace past the header's scan window forces the full parse: the reference.
    const parsed = (json: string) => decode(`${ENVELOPE_PREFIX}${" ".repeat(600)}${json}`);
    const names = fc.oneof(
      fc.integer({ min: MAX_EVENT_NAME_LENGTH - 2, max: MAX_EVENT_NAME_LENGTH + 2 }).map((n) => "n".repeat(n)),
      fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 120, maxLength: 140 }),
      fc.string({ maxLength: 140 }),
    );
    const ids = fc.oneof(fc.integer({ min: 0, max: MAX_ACK_ID }), fc.integer({ min: MAX_ACK_ID, max: Number.MAX_SAFE_INTEGER }), fc.double(), fc.constant(-1));
    const element = fc.oneof(names, ids, fc.jsonValue({ maxDepth: 2 }));
    fc.assert(
      fc.property(fc.constantFrom("e", "c", "a", "x", "w", "!"), fc.array(element, { maxLength: 4 }), (type, rest) => {
        const json = JSON.stringify([type, ...rest]);
        expect(decode(ENVELOPE_PREFIX + json)).toEqual(parsed(json));
      }),
      { numRuns: 3000 },
    );
  });
});
