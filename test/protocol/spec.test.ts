/**
 * The points docs/protocol.md settles for implementations in other languages, one test each, and the Python
 * reference decoder of its section 10 run against wsmount's decoder.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { connect } from "../../client/index.js";
import { ErrorCode } from "../../core/errors.js";
import { EventState, type EventPeer } from "../../core/events.js";
import {
  decode,
  decodeWhole,
  encodeAck,
  encodeError,
  encodeEvent,
  MAX_ACK_ID,
  MAX_NESTING,
  peekAckId,
  type Decoded,
} from "../../core/protocol/index.js";
import { mountedPerTest } from "../helpers/mounts.js";
import { startTestServer, waitUntil } from "../client/test-server.js";

/** A connection's events side with everything it sends and reports recorded. */
function peer(handlers: Record<string, (data: unknown) => unknown> = {}) {
  const sent: string[] = [];
  const errors: Array<Error & { code?: string }> = [];
  const p: EventPeer = {
    id: "t",
    _sendText: (text) => (sent.push(text), true),
    _error: (error) => void errors.push(error),
  };
  const state = new EventState();
  for (const [name, handler] of Object.entries(handlers)) state.on(name, handler);
  return { sent, errors, receive: (text: string) => state.receive(p, text), state, p };
}

const deep = (levels: number) => "[".repeat(levels) + "]".repeat(levels);

describe("spec 1: an ack id is a number whose value is an integer in range, however it is written", () => {
  it("reads 7.0, 7e0, 0.7e1 as 7 and -0 as 0, and answers with plain digits", () => {
    for (const [written, id] of [["7", 7], ["7.0", 7], ["7e0", 7], ["0.7e1", 7], ["7.0000000000000001", 7], ["-0", 0], ["-0.0", 0], ["2147483647.0", MAX_ACK_ID]] as const) {
      const text = `wsm1["c",${written},"n",1]`;
      // `-0` is read as the number -0, which is the id 0 (+ 0 turns it into 0 for the comparison).
      const idOf = (message: Decoded) => (message.kind === "event" || message.kind === "ack" ? (message.ackId ?? -1) + 0 : message.kind);
      expect(idOf(decode(text)), text).toBe(id);
      expect(idOf(decodeWhole(text)), text).toBe(id);
      expect(idOf(decode(`wsm1["a",${written}]`)), written).toBe(id);
      const { sent, receive } = peer({ n: () => "ok" });
      receive(text);
      expect(sent).toEqual([`wsm1["a",${id},"ok"]`]);
    }
    expect(encodeAck(-0)).toBe('wsm1["a",0]');
  });

  it("refuses what is not an integer from 0 to 2^31 - 1 as bad-ack-id", () => {
    for (const written of ["7.5", "-1", '"7"', "true", "null", "[7]", "2147483648", "2147483647.9999999999", "1e400"]) {
      expect(decode(`wsm1["c",${written},"n"]`), written).toEqual({ kind: "invalid", reason: "bad-ack-id", ackId: undefined });
      expect(decode(`wsm1["x",${written},{"message":"m"}]`), written).toEqual({ kind: "invalid", reason: "bad-ack-id", ackId: undefined });
    }
    expect(decode('wsm1["c"]')).toEqual({ kind: "invalid", reason: "bad-ack-id", ackId: undefined });
  });

  it("reads an id from the start of a message only when written as plain digits", () => {
    expect(peekAckId(`wsm1["c",7,"n",${deep(70)}]`)).toBe(7);
    for (const written of ["7.0", "7e0", "-0"]) expect(peekAckId(`wsm1["c",${written},"n",${deep(70)}]`)).toBeUndefined();
  });
});

describe("spec 2: any type string but the six is unknown-type; a type that is no string is bad-shape", () => {
  it("classifies empty, multi-character and other strings as unknown-type", () => {
    for (const type of ["", "ec", "ca", "ax", "event", "E", "é", "!w"]) {
      const text = `wsm1[${JSON.stringify(type)},1,"n"]`;
      expect(decode(text), text).toEqual({ kind: "invalid", reason: "unknown-type", ackId: undefined });
      expect(decodeWhole(text), text).toEqual({ kind: "invalid", reason: "unknown-type", ackId: undefined });
    }
    for (const text of ["wsm1[]", "wsm1[1]", "wsm1[null]", 'wsm1[["e"],"n"]', "wsm1[true]", 'wsm1{"e":"n"}', 'wsm1"e"']) {
      expect(decode(text), text).toEqual({ kind: "invalid", reason: "bad-shape", ackId: undefined });
    }
  });
});

describe("spec 3: when several rules are broken, the first failing check of section 6 gives the reason", () => {
  it("checks version, depth, JSON, array and type, then each type's elements in order", () => {
    const cases: Array<[string, string, number | undefined]> = [
      [`wsm2${deep(100)}x`, "unsupported-version", undefined], // version before depth and JSON
      [`wsm1${"[".repeat(MAX_NESTING + 1)}`, "too-deep", undefined], // depth before JSON
      [`wsm1["c",3,"a b",${deep(MAX_NESTING)}]`, "too-deep", 3], // depth before the name
      ['wsm1["e","a b",1,2', "bad-json", undefined], // JSON before everything after it
      ['wsm1{"0":"c"}', "bad-shape", undefined],
      ['wsm1["zz",-1,"a b",1,2,3]', "unknown-type", undefined], // type before the rest
      ['wsm1["e","a b",1,2]', "bad-name", undefined], // e: name before the count
      ['wsm1["e"]', "bad-shape", undefined],
      ['wsm1["c",-1]', "bad-ack-id", undefined], // c: id before the count
      ['wsm1["c",-1,"a b",1,2]', "bad-ack-id", undefined], // c: id before the name
      ['wsm1["c",2]', "bad-shape", 2], // c: count before the name, with the id
      ['wsm1["c",2,"a b",1,2]', "bad-name", 2], // c: name before the upper count
      ['wsm1["c",2,"a",1,2]', "bad-shape", 2],
      ['wsm1["a"]', "bad-shape", undefined], // a: count before the id
      ['wsm1["a",-1,1,2]', "bad-ack-id", undefined], // a: id before the upper count
      ['wsm1["x",-1]', "bad-ack-id", undefined], // x: id before the rest of the shape
      ['wsm1["x",1]', "bad-shape", undefined],
      ['wsm1["x",1,{"message":"m","code":null}]', "bad-shape", undefined],
      ['wsm1["!",{"code":"C","message":"m"},1]', "bad-shape", undefined],
      ['wsm1["w",{"id":"q"},1]', "bad-shape", undefined],
    ];
    for (const [text, reason, ackId] of cases) {
      expect(decode(text), text.slice(0, 60)).toEqual({ kind: "invalid", reason, ackId });
      // The browser client does not count the depth; everything else is the same.
      if (reason !== "too-deep") expect(decodeWhole(text), text.slice(0, 60)).toEqual({ kind: "invalid", reason, ackId });
    }
  });

  it("gives the same reason from the start of a long message as from a full parse, for valid JSON", () => {
    const tail = JSON.stringify("x".repeat(600));
    for (const text of [`wsm1["c",5,"${"n".repeat(129)}",${tail}]`, `wsm1["a",${MAX_ACK_ID + 1},${tail}]`, `wsm1["e","${"n".repeat(200)}",${tail}]`]) {
      expect(decode(text)).toEqual(decodeWhole(text));
    }
  });
});

describe("spec 4: the message of x and ! answers to invalid envelopes is the reason; other messages are free text", () => {
  it("answers every invalid envelope with its reason as the message, under the stable code", () => {
    for (const text of ["wsm1[", "wsm1[]", 'wsm1["zz"]', 'wsm1["e",5]', 'wsm1["a",-1]', 'wsm1["c",4]', 'wsm1["c",4,"a b"]', `wsm1["c",6,${deep(70)}]`, "wsm5[]"]) {
      const { sent, receive } = peer();
      receive(text);
      const reason = (decode(text) as Extract<Decoded, { kind: "invalid" }>).reason;
      expect(sent).toHaveLength(1);
      const answer = decode(sent[0]!);
      if (answer.kind === "ackError") {
        expect(answer.error).toEqual({ message: reason, code: "ERR_WSMOUNT_INVALID_ENVELOPE" });
      } else {
        expect(answer).toEqual({
          kind: "error",
          code: reason === "unsupported-version" ? "ERR_WSMOUNT_UNSUPPORTED_VERSION" : "ERR_WSMOUNT_INVALID_ENVELOPE",
          message: reason,
        });
      }
    }
  });

  it("passes a handler's error message unchanged, and gives other failures a stable code", () => {
    const { sent, receive } = peer({ fail: () => { throw Object.assign(new Error("room is full"), { code: "E_FULL" }); } });
    receive('wsm1["c",1,"fail"]');
    receive('wsm1["c",2,"missing"]');
    expect(decode(sent[0]!)).toEqual({ kind: "ackError", ackId: 1, error: { message: "room is full", code: "E_FULL" } });
    expect(decode(sent[1]!)).toMatchObject({ kind: "ackError", ackId: 2, error: { code: "ERR_WSMOUNT_UNKNOWN_EVENT" } });
  });
});

describe("spec 5: a call's id comes from a parse, or from the start of a message refused unparsed", () => {
  it("answers a call cut short (bad-json) with !, never x", () => {
    for (const text of ['wsm1["c",5,"a"', 'wsm1["c",5,"a",{"k":', 'wsm1["c",5,']) {
      expect(decode(text)).toEqual({ kind: "invalid", reason: "bad-json", ackId: undefined });
      const { sent, receive } = peer({ a: () => 1 });
      receive(text);
      expect(sent).toEqual([encodeError("ERR_WSMOUNT_INVALID_ENVELOPE", "bad-json")]);
    }
  });

  it("answers a call refused unparsed with x to the id read from its start, when written as plain digits", () => {
    const { sent, receive } = peer({ a: () => 1 });
    receive(`wsm1 [ "c" , 9 , "a", ${deep(70)}]`);
    receive(`wsm1["c",9.0,"a",${deep(70)}]`);
    expect(sent.map((text) => decode(text))).toEqual([
      { kind: "ackError", ackId: 9, error: { message: "too-deep", code: "ERR_WSMOUNT_INVALID_ENVELOPE" } },
      { kind: "error", code: "ERR_WSMOUNT_INVALID_ENVELOPE", message: "too-deep" },
    ]);
  });
});

describe("spec 6: a server ignores a valid w, never answers a valid !, and answers an invalid ! once", () => {
  it("sends nothing back for a valid w or !, and reports the !", () => {
    const { sent, errors, receive } = peer();
    receive('wsm1["w",{"id":"spoofed"}]');
    expect(errors).toEqual([]);
    receive('wsm1["!",{"code":"C","message":"m"}]');
    expect(sent).toEqual([]);
    expect(errors.map((error) => error.code)).toEqual([ErrorCode.PROTOCOL_NOTICE]);
  });

  it("answers an invalid ! with one valid !, which the other side does not answer: no loop", () => {
    const server = peer();
    const other = peer();
    for (const text of ['wsm1["!","oops"]', 'wsm1["!",{"code":1,"message":"m"}]', 'wsm1["w",{"id":5}]']) {
      server.receive(text);
    }
    expect(server.sent).toEqual(Array(3).fill(encodeError("ERR_WSMOUNT_INVALID_ENVELOPE", "bad-shape")));
    for (const text of server.sent) other.receive(text);
    expect(other.sent).toEqual([]);
  });
});

describe("spec 7: the welcome, when the endpoint sends it, is the first message of every connection", () => {
  const { start } = mountedPerTest("node");
  const sockets: WebSocket[] = [];
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });

  async function firstFrames(welcome: boolean): Promise<string[]> {
    const app = await start({ welcome, generateId: () => "c-1" }, (connection) => {
      connection.send("raw first");
      connection.emit("hello", 1);
    });
    const frames: string[] = [];
    const socket = new WebSocket(app.url());
    sockets.push(socket);
    socket.on("message", (data: Buffer) => void frames.push(data.toString()));
    await waitUntil(() => frames.length >= (welcome ? 3 : 2), "the first messages");
    return frames;
  }

  it("comes before anything the application sends on connection", async () => {
    expect(await firstFrames(true)).toEqual(['wsm1["w",{"id":"c-1"}]', "raw first", 'wsm1["e","hello",1]']);
  });

  it("when off, the first message is something else, which tells the client none comes", async () => {
    const frames = await firstFrames(false);
    expect(frames[0]).toBe("raw first");
    expect(frames.every((text) => decode(text).kind !== "welcome")).toBe(true);
  });
});

describe("spec 8: numbers are read as doubles; nesting is limited to 64", () => {
  it("keeps what a double keeps", () => {
    expect(decode('wsm1["e","n",9007199254740993]')).toMatchObject({ data: 9007199254740992 });
    expect(decode('wsm1["e","n",[1.0,1e2,-0,0.1]]')).toMatchObject({ data: [1, 100, -0, 0.1] });
    expect(decode('wsm1["e","n",12345678901234567890]')).toMatchObject({ data: Number("12345678901234567890") });
  });

  it("accepts 64 levels, the envelope's array included, and refuses 65", () => {
    const at = (levels: number) => `wsm1["c",3,"n",${deep(levels - 1)}]`;
    expect(decode(at(MAX_NESTING))).toMatchObject({ kind: "event", ackId: 3 });
    expect(decode(at(MAX_NESTING + 1))).toEqual({ kind: "invalid", reason: "too-deep", ackId: 3 });
    // Objects count like arrays, brackets in strings do not.
    expect(decode(`wsm1["e","n",${'{"k":'.repeat(MAX_NESTING - 1)}"[[[["${"}".repeat(MAX_NESTING - 1)}]`).kind).toBe("event");
    expect(decode(`wsm1["e","n",${'{"k":'.repeat(MAX_NESTING)}1${"}".repeat(MAX_NESTING)}]`)).toMatchObject({ reason: "too-deep" });
  });
});

describe("spec 9: bytes travel in events as base64 strings; binary frames are always raw", () => {
  it("never reads a binary frame as an envelope", () => {
    const bytes = new TextEncoder().encode('wsm1["e","n",1]');
    expect(decode(bytes)).toEqual({ kind: "raw" });
    expect(decode(bytes.buffer)).toEqual({ kind: "raw" });
    expect(decode(Buffer.from(bytes))).toEqual({ kind: "raw" });
  });

  it("carries bytes as base64 in the data, and shows why raw byte arrays should not be sent", () => {
    const bytes = Uint8Array.of(0, 1, 254, 255, 104, 105);
    const text = encodeEvent("file", { name: "a.bin", bytes: Buffer.from(bytes).toString("base64") });
    expect(text).toBe('wsm1["e","file",{"name":"a.bin","bytes":"AAH+/2hp"}]');
    const decoded = decode(text) as Extract<Decoded, { kind: "event" }>;
    expect(new Uint8Array(Buffer.from((decoded.data as { bytes: string }).bytes, "base64"))).toEqual(bytes);
    expect(encodeEvent("n", Uint8Array.of(104, 105))).toBe('wsm1["e","n",{"0":104,"1":105}]');
    expect(encodeEvent("n", Buffer.from("hi"))).toBe('wsm1["e","n",{"type":"Buffer","data":[104,105]}]');
  });
});

describe("spec 10: ack ids carry no meaning; wsmount's server starts at 1 and its client at 0", () => {
  it("the server's first call on a connection has id 1, and a call with id 0 is answered", () => {
    const { sent, receive, state, p } = peer({ n: () => "ok" });
    void state.call(p, "first", undefined, 0).catch(() => {});
    void state.call(p, "second", undefined, 0).catch(() => {});
    expect(sent).toEqual(['wsm1["c",1,"first"]', 'wsm1["c",2,"second"]']);
    receive('wsm1["c",0,"n"]');
    expect(sent[2]).toBe('wsm1["a",0,"ok"]');
    state.closed();
  });

  it("the client's first call on a connection has id 0", async () => {
    const server = await startTestServer();
    const client = connect(server.url, { WebSocket, reconnect: false });
    try {
      void client.emitWithAck("first" as never).catch(() => {});
      await waitUntil(() => server.frames.length >= 1, "the call");
      expect(server.frames[0]).toBe('wsm1["c",0,"first"]');
    } finally {
      client.close();
      await server.stop();
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The reference decoder of docs/protocol.md section 10, run with python3 (skipped where there is none).

const python = spawnSync("python3", ["--version"]).status === 0;

function referenceCode(): string {
  const doc = readFileSync(new URL("../../docs/protocol.md", import.meta.url), "utf8");
  const section = doc.slice(doc.indexOf("## 10. Writing a peer in another language"));
  const start = section.indexOf("```python\n") + "```python\n".length;
  return section.slice(start, section.indexOf("\n```", start));
}

function runReference(texts: string[]): unknown[] {
  const driver = "\nimport sys\nprint(json.dumps([decode(t) for t in json.load(sys.stdin)]))\n";
  const run = spawnSync("python3", ["-c", referenceCode() + driver], { input: JSON.stringify(texts), encoding: "utf8", maxBuffer: 64 << 20 });
  if (run.status !== 0) throw new Error(run.stderr);
  return JSON.parse(run.stdout) as unknown[];
}

/** wsmount's decoding in the reference decoder's shape. */
function asReference(message: Decoded): unknown[] {
  const some = (value: unknown) => (value === undefined ? [] : [value]);
  // Python reads `-0` as 0, JavaScript as -0: the same id.
  const id = (ackId: number | undefined) => (ackId === undefined ? null : ackId + 0);
  switch (message.kind) {
    case "raw":
      return ["raw"];
    case "event":
      return ["event", message.name, some(message.data), id(message.ackId)];
    case "ack":
      return ["ack", id(message.ackId), some(message.result)];
    case "ackError":
      return ["ack-error", id(message.ackId), message.error.message, message.error.code ?? null];
    case "error":
      return ["error", message.code, message.message];
    case "welcome":
      return ["welcome", message.id];
    case "invalid":
      return ["invalid", message.reason, id(message.ackId)];
  }
}

const handCases = [
  "", "hello", "wsm", "wsmx[]", "wsm2[]", "wsm0", "wsm1", "wsm1 ", "wsm1[", "wsm1[]", "wsm1[1]", "wsm1{}",
  'wsm1["e"]', 'wsm1["e","a"]', 'wsm1 [ "e" , "a" , null ] ', 'wsm1["e","a",1,2]', 'wsm1["e",5,1,2]', 'wsm1["e","a b"]',
  'wsm1["c"]', 'wsm1["c",7.0,"a"]', 'wsm1["c",7e0,"a",[1]]', 'wsm1["c",-0,"a"]', 'wsm1["c",-0.0,"a"]', 'wsm1["c",0.7e1,"a"]',
  'wsm1["c",7.5,"a"]', 'wsm1["c",true,"a"]', 'wsm1["c",2147483648,"a"]', 'wsm1["c",2147483647.0,"a"]', 'wsm1["c",1e400,"a"]',
  'wsm1["c",3]', 'wsm1["c",3,"a b"]', 'wsm1["c",3,"a",1,2]', 'wsm1["c",-1,"a b",1,2]',
  'wsm1["a"]', 'wsm1["a",1]', 'wsm1["a",1,null]', 'wsm1["a",1,2,3]', 'wsm1["a",-1,2,3]', 'wsm1["a",7e0,{"k":[1]}]',
  'wsm1["x",1]', 'wsm1["x",1,{"message":"m"}]', 'wsm1["x",1,{"message":"m","code":"C","extra":1}]', 'wsm1["x",1,{"message":"m","code":null}]',
  'wsm1["x",1,{"message":1}]', 'wsm1["x",1,"m"]', 'wsm1["x",-1,"m"]', 'wsm1["x",1,{"message":"m"},2]', 'wsm1["x",1,{"__proto__":{"message":"m"}}]',
  'wsm1["!"]', 'wsm1["!",{"code":"C","message":"m"}]', 'wsm1["!",{"code":"C"}]', 'wsm1["!","oops"]', 'wsm1["!",{"code":"C","message":"m"},1]',
  'wsm1["w",{"id":"q","future":true}]', 'wsm1["w",{"id":5}]', 'wsm1["w"]', 'wsm1["w",null]',
  'wsm1["",1]', 'wsm1["ec",1]', 'wsm1["ca"]', 'wsm1["event","a"]', "wsm1[null]", 'wsm1[["e"]]',
  'wsm1["a",NaN]', 'wsm1["a",Infinity]', 'wsm1["a",-Infinity]', 'wsm1["a",1,]', 'wsm1["a",01]', "wsm1[\"e\",\"a\",\"\u0001\"]",
  'wsm1["c",5,"a"', 'wsm1["c",5,', `wsm1${"[".repeat(65)}`, `wsm1["c",9,${deep(64)}]`, `wsm1["c",9,"a",${deep(63)}]`,
  `wsm1["c",9.0,"a",${deep(64)}]`, `wsm1["c",009,"a",${deep(64)}]`, `wsm1["e","a",${JSON.stringify("[[[[\\\"".repeat(40))}]`,
  'wsm1["e","a",{"k":1,"k":2}]', 'wsm1["e","a","\\ud800"]', `wsm1["e","${"n".repeat(128)}"]`, `wsm1["e","${"n".repeat(129)}"]`,
];

describe("spec: the section 10 reference decoder agrees with wsmount's decode", () => {
  it.skipIf(!python)("on hand-picked envelopes, one per rule and per order of checks", () => {
    const expected = handCases.map((text) => asReference(decode(text)));
    expect(runReference(handCases)).toEqual(expected);
  });

  it.skipIf(!python)("on generated envelopes", () => {
    const type = fc.constantFrom<unknown>("e", "c", "a", "x", "!", "w", "", "ec", "E", 1, null);
    const element = fc.oneof(
      fc.constantFrom<unknown>(0, 7, -1, 1.5, MAX_ACK_ID, MAX_ACK_ID + 1, "7", true, null),
      fc.constantFrom<unknown>("a", "chat:message", "a b", "", "n".repeat(129), "é"),
      fc.constantFrom<unknown>({ message: "m" }, { message: "m", code: "C" }, { code: "C", message: "m" }, { id: "q" }, { message: 1 }, {}),
      fc.jsonValue({ maxDepth: 3 }),
    );
    const texts = fc.sample(
      fc.tuple(type, fc.array(element, { maxLength: 4 })).map(([t, rest]) => `wsm1${JSON.stringify([t, ...rest])}`),
      { numRuns: 400, seed: 20261127 },
    );
    expect(runReference(texts)).toEqual(texts.map((text) => asReference(decode(text))));
  });
});
