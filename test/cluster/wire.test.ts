/** The Redis broker's wire format, its signatures and its options, without Redis. */
import { createServer, type AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { redisBroker } from "../../adapters/redis.js";
import { Signer, channelTag } from "../../adapters/redis/signing.js";
import {
  Kind,
  decodeNodeMessage,
  decodePublication,
  encodeAnswer,
  encodePublication,
  encodeRequest,
  readBody,
  readEnvelope,
  seal,
  sentBy,
  type Sender,
} from "../../adapters/redis/wire.js";

const KEY = Buffer.from("a key of thirty-two bytes or more, for the tests");
const OTHER_KEY = Buffer.from("another key of thirty-two bytes or more, for tests");
const SECRET = "a secret of thirty-two bytes or more";

function sender(signer: Signer, node = "node-a-12345"): Sender {
  let seq = 0;
  return { signer, node, next: () => ++seq };
}

/** Reads a message as a receiver with `signer` on `channel` would, up to its signature. */
function receive(signer: Signer, channel: string, message: Buffer) {
  const envelope = readEnvelope(message);
  if (envelope === null) return { verdict: "not ours" as const };
  const verdict = signer.verify(channelTag(channel), message, envelope.keyId);
  const body = readBody(message, envelope);
  return { verdict, envelope, body };
}

describe("publications on the wire", () => {
  const signer = new Signer([KEY]);
  const pub = "app:default:pub";

  it("carries text, binary, targets, the publishing process and its sequence number unchanged", () => {
    const text = { to: ["room", "id-1"], except: ["muted"], data: 'wsm1["e","x",{"a":"é\\n"}]\nline', binary: false };
    const a = sender(signer);
    const first = receive(signer, pub, encodePublication(a, channelTag(pub), text));
    expect(first.verdict).toBe("ok");
    expect(first.envelope).toMatchObject({ node: "node-a-12345", kind: Kind.publication });
    expect(first.body!.seq).toBe(1);
    expect(Math.abs(first.body!.time - Date.now())).toBeLessThan(1000);
    expect(decodePublication(first.body!)).toEqual(text);

    const bytes = new Uint8Array([0, 10, 255, 13, 10]);
    const binary = receive(signer, pub, encodePublication(a, channelTag(pub), { to: [], except: [], data: bytes, binary: true }));
    expect(binary.body!.seq).toBe(2);
    const decoded = decodePublication(binary.body!);
    expect(decoded?.binary).toBe(true);
    expect([...(decoded!.data as Uint8Array)]).toEqual([...bytes]);
    expect(decodePublication(receive(signer, pub, encodePublication(a, channelTag(pub), { to: [], except: [], data: "", binary: false })).body!)?.data).toBe("");
  });

  it("tells a process's own messages from others' without decoding them", () => {
    const message = encodePublication(sender(signer), channelTag(pub), { to: [], except: [], data: "x", binary: false });
    expect(sentBy(message, Buffer.from("node-a-12345"))).toBe(true);
    expect(sentBy(message, Buffer.from("node-b-12345"))).toBe(false);
  });

  it("refuses what it did not write: another version, an unknown kind, a bad process id, bad fields, invalid UTF-8 text", () => {
    const unsigned = new Signer([]);
    const make = (fields: unknown[], payload?: string | Uint8Array) => seal(sender(unsigned), channelTag(pub), Kind.publication, fields, payload);
    const good = make([0, [], []], "x");
    expect(readEnvelope(Buffer.from('[1,"n",0,[],[]]\nx'))).toBeNull();
    expect(readEnvelope(Buffer.concat([Buffer.from([3]), good.subarray(1)]))).toBeNull();
    const badKind = Buffer.from(good);
    badKind[5] = 0x7a;
    expect(readEnvelope(badKind)).toBeNull();
    const badNode = Buffer.from(good);
    badNode.write("node a", 6, "latin1");
    expect(readEnvelope(badNode)).toBeNull();
    const body = (message: Buffer) => readBody(message, readEnvelope(message)!);
    expect(decodePublication(body(make([2, [], []], "x"))!)).toBeNull();
    expect(decodePublication(body(make([0, [""], []], "x"))!)).toBeNull();
    expect(decodePublication(body(make([0, [], [3]], "x"))!)).toBeNull();
    expect(decodePublication(body(make([0, []], "x"))!)).toBeNull();
    expect(decodePublication(body(make([0, [], []], new Uint8Array([0xc3, 0x28])))!)).toBeNull();
    expect(decodePublication(body(make([1, [], []], new Uint8Array([0xc3, 0x28])))!)?.binary).toBe(true);
    const notJson = Buffer.from(good);
    notJson.write("{", 18, "latin1");
    expect(body(notJson)).toBeNull();
  });
});

describe("signatures", () => {
  const pub = "app:default:pub";
  const publication = { to: [], except: [], data: "hello", binary: false };

  it("accept a message signed with the secret, for the channel it was signed for", () => {
    const signer = new Signer([KEY]);
    const message = encodePublication(sender(signer), channelTag(pub), publication);
    expect(receive(signer, pub, message).verdict).toBe("ok");
    // The same bytes on another channel (another endpoint, a process's own channel) are refused.
    expect(receive(signer, "app:other:pub", message).verdict).toBe("bad signature");
    expect(receive(signer, "app:default:node:node-a-12345", message).verdict).toBe("bad signature");
  });

  it("refuse unsigned messages, another secret's, and any change to a signed one", () => {
    const signer = new Signer([KEY]);
    expect(receive(signer, pub, encodePublication(sender(new Signer([])), channelTag(pub), publication)).verdict).toBe("unsigned");
    expect(receive(signer, pub, encodePublication(sender(new Signer([OTHER_KEY])), channelTag(pub), publication)).verdict).toBe("unknown key");
    const message = encodePublication(sender(signer), channelTag(pub), publication);
    for (let at = 5; at < message.length; at++) {
      const changed = Buffer.from(message);
      changed[at]! ^= 0x01;
      expect(receive(signer, pub, changed).verdict, `byte ${at}`).not.toBe("ok");
    }
    expect(receive(signer, pub, message.subarray(0, message.length - 1)).verdict).not.toBe("ok");
  });

  it("rotate: sign with the first secret, accept either", () => {
    const next = new Signer([OTHER_KEY, KEY]);
    const current = new Signer([KEY]);
    const both = new Signer([KEY, OTHER_KEY]);
    const fromNext = encodePublication(sender(next), channelTag(pub), publication);
    const fromCurrent = encodePublication(sender(current), channelTag(pub), publication);
    expect(receive(next, pub, fromCurrent).verdict).toBe("ok");
    expect(receive(both, pub, fromNext).verdict).toBe("ok");
    expect(receive(both, pub, fromCurrent).verdict).toBe("ok");
    expect(receive(current, pub, fromNext).verdict).toBe("unknown key");
  });

  it("are neither written nor checked when signing is off", () => {
    const off = new Signer([]);
    const unsigned = encodePublication(sender(off), channelTag(pub), publication);
    expect(unsigned.length).toBe(encodePublication(sender(new Signer([KEY])), channelTag(pub), publication).length - 32);
    expect(receive(off, pub, unsigned).verdict).toBe("ok");
    const signed = encodePublication(sender(new Signer([KEY])), channelTag(pub), publication);
    const { verdict, body } = receive(off, pub, signed);
    expect(verdict).toBe("ok");
    expect(decodePublication(body!)).toEqual(publication);
  });
});

describe("requests between processes on the wire", () => {
  const signer = new Signer([KEY]);
  const inbox = "app:default:node:node-b-12345";
  const a = sender(signer);
  const read = (message: Buffer) => {
    const { verdict, envelope, body } = receive(signer, inbox, message);
    expect(verdict).toBe("ok");
    return decodeNodeMessage(envelope!, body!);
  };

  it("round-trips requests and answers", () => {
    const request = { type: "emitWithAck", event: "q", data: { n: [1, 2] }, timeout: 0 } as const;
    expect(read(encodeRequest(a, channelTag(inbox), 7, "conn-1", request))).toEqual({ kind: "request", rid: 7, id: "conn-1", request });
    expect(read(encodeRequest(a, channelTag(inbox), 8, "conn-1", { type: "session" }))).toMatchObject({ request: { type: "session" } });
    const outcome = { status: "error", error: { name: "RemoteError", message: "no", code: "E_NO" } } as const;
    expect(read(encodeAnswer(a, channelTag(inbox), 7, outcome))).toEqual({ kind: "answer", rid: 7, outcome });
    expect(read(encodeAnswer(a, channelTag(inbox), 9, { status: "not-found" }))).toEqual({ kind: "answer", rid: 9, outcome: { status: "not-found" } });
  });

  it("answers with an error when the value cannot travel as JSON", () => {
    expect(read(encodeAnswer(a, channelTag(inbox), 3, { status: "ok", value: 10n }))).toMatchObject({
      outcome: { status: "error", error: { name: "WsmountError", code: "ERR_WSMOUNT_BROKER" } },
    });
  });

  it("refuses malformed messages", () => {
    const request = (fields: unknown[]) => seal(a, channelTag(inbox), Kind.request, fields);
    const answer = (fields: unknown[]) => seal(a, channelTag(inbox), Kind.answer, fields);
    for (const message of [
      request([1, "", { type: "session" }]),
      request([-1, "c", { type: "session" }]),
      request([1, "c", { type: "other" }]),
      request([1, "c", { type: "emitWithAck", event: "e", timeout: -1 }]),
      request([1, "c"]),
      answer([1, { status: "maybe" }]),
      answer([1, { status: "error", error: { message: "m" } }]),
      seal(a, channelTag(inbox), Kind.publication, [1, { status: "ok" }]),
    ]) {
      expect(read(message)).toBeNull();
    }
  });
});

describe("redisBroker options", () => {
  it("requires a prefix, so that two applications never share channels by accident", () => {
    expect(() => redisBroker({} as never)).toThrow(/option "prefix" must be/);
    expect(() => redisBroker({ prefix: "", secret: SECRET })).toThrow(TypeError);
    expect(() => redisBroker({ prefix: "my app", secret: SECRET })).toThrow(/"prefix"/);
    expect(() => redisBroker(undefined as never)).toThrow(TypeError);
  });

  it("requires a secret of 32 bytes or more (or false), and never shows it in the error", () => {
    expect(() => redisBroker({ prefix: "p" } as never)).toThrow(/option "secret" must be a secret of at least 32 bytes .* or false/);
    expect(() => redisBroker({ prefix: "p", secret: "short-but-private" })).toThrow(/option "secret" must be .*; got "a secret of 17 bytes \(not shown\)"/);
    expect(() => redisBroker({ prefix: "p", secret: "short-but-private" })).not.toThrow(/short-but-private/);
    expect(() => redisBroker({ prefix: "p", secret: [SECRET, "short"] })).toThrow(/option "secret\[1\]"/);
    expect(() => redisBroker({ prefix: "p", secret: [SECRET, SECRET, SECRET] as never })).toThrow(/option "secret"/);
    expect(() => redisBroker({ prefix: "p", secret: [] as never })).toThrow(/option "secret"/);
    expect(() => redisBroker({ prefix: "p", secret: true as never })).toThrow(/option "secret"/);
    expect(() => redisBroker({ prefix: "p", secret: 42 as never })).toThrow(/option "secret"/);
    // "é" is two bytes in UTF-8: 16 of them make 32 bytes.
    expect(() => redisBroker({ prefix: "p", secret: "é".repeat(16) })).not.toThrow();
    expect(() => redisBroker({ prefix: "p", secret: new Uint8Array(32) })).not.toThrow();
    expect(() => redisBroker({ prefix: "p", secret: [SECRET, Buffer.alloc(40, 1)] })).not.toThrow();
    expect(() => redisBroker({ prefix: "p", secret: false })).not.toThrow();
  });

  it("names the bad option", () => {
    const secret = SECRET;
    expect(() => redisBroker({ prefix: "p", secret, url: "http://x" })).toThrow(/option "url"/);
    expect(() => redisBroker({ prefix: "p", secret, client: {} as never })).toThrow(/option "client"/);
    expect(() => redisBroker({ prefix: "p", secret, heartbeatInterval: 0 })).toThrow(/option "heartbeatInterval"/);
    expect(() => redisBroker({ prefix: "p", secret, heartbeatInterval: 1000, nodeTimeout: 1000 })).toThrow(/option "nodeTimeout" must be more than heartbeatInterval/);
    expect(() => redisBroker({ prefix: "p", secret, requestTimeout: 1.5 })).toThrow(/option "requestTimeout"/);
    expect(() => redisBroker({ prefix: "p", secret, chanel: "x" } as never)).toThrow(/option "chanel"/);
    expect(() => redisBroker({ prefix: "p", secret, redis: "x" as never })).toThrow(/option "redis"/);
    expect(() => redisBroker({ prefix: "p", secret, maxRemoteRequests: 0 })).toThrow(/option "maxRemoteRequests"/);
    expect(() => redisBroker({ prefix: "p", secret, maxAckTimeout: 0 })).toThrow(/option "maxAckTimeout"/);
    expect(() => redisBroker({ prefix: "p", secret, replayWindow: -1 })).toThrow(/option "replayWindow"/);
  });

  it("opens no connection before an endpoint uses it", async () => {
    let connections = 0;
    const server = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    redisBroker({ prefix: "p", secret: SECRET, url: `redis://127.0.0.1:${(server.address() as AddressInfo).port}` });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await new Promise((resolve) => server.close(resolve));
    expect(connections).toBe(0);
  });
});
