/** The Redis broker's wire format and options, without Redis. */
import { createServer, type AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { redisBroker } from "../../adapters/redis.js";
import { decodeNodeMessage, decodePublication, encodeAnswer, encodePublication, encodeRequest } from "../../adapters/redis/wire.js";

describe("publications on the wire", () => {
  it("carries text, binary, targets and the publishing process unchanged", () => {
    const text = { to: ["room", "id-1"], except: ["muted"], data: 'wsm1["e","x",{"a":"é\\n"}]\nline', binary: false };
    const decoded = decodePublication(encodePublication("node-a", text));
    expect(decoded?.node).toBe("node-a");
    expect(decoded?.publication).toMatchObject({ to: ["room", "id-1"], except: ["muted"], binary: false });
    expect(decoded!.publication.data).toBe(text.data);

    const bytes = new Uint8Array([0, 10, 255, 13, 10]);
    const binary = decodePublication(encodePublication("node-b", { to: [], except: [], data: bytes, binary: true }));
    expect(binary?.publication.binary).toBe(true);
    expect([...(binary!.publication.data as Uint8Array)]).toEqual([...bytes]);
  });

  it("refuses what it did not write: no header line, bad JSON, another version, bad fields, invalid UTF-8 text", () => {
    const payload = (header: string, body: Buffer = Buffer.from("x")) => Buffer.concat([Buffer.from(`${header}\n`), body]);
    expect(decodePublication(Buffer.from("no newline"))).toBeNull();
    expect(decodePublication(payload("{not json"))).toBeNull();
    expect(decodePublication(payload('[2,"n",0,[],[]]'))).toBeNull();
    expect(decodePublication(payload('[1,"n",2,[],[]]'))).toBeNull();
    expect(decodePublication(payload('[1,"n",0,[""],[]]'))).toBeNull();
    expect(decodePublication(payload('[1,"n",0,[],[3]]'))).toBeNull();
    expect(decodePublication(payload('[1,7,0,[],[]]'))).toBeNull();
    expect(decodePublication(payload('[1,"n",0,[],[]]', Buffer.from([0xc3, 0x28])))).toBeNull();
    expect(decodePublication(payload('[1,"n",1,[],[]]', Buffer.from([0xc3, 0x28])))?.publication.binary).toBe(true);
  });
});

describe("requests between processes on the wire", () => {
  it("round-trips requests and answers", () => {
    const request = { type: "emitWithAck", event: "q", data: { n: [1, 2] }, timeout: 0 } as const;
    expect(decodeNodeMessage(encodeRequest("node-a", 7, "conn-1", request))).toEqual({ kind: "request", from: "node-a", rid: 7, id: "conn-1", request });
    expect(decodeNodeMessage(encodeRequest("node-a", 8, "conn-1", { type: "session" }))).toMatchObject({ request: { type: "session" } });
    const outcome = { status: "error", error: { name: "RemoteError", message: "no", code: "E_NO" } } as const;
    expect(decodeNodeMessage(encodeAnswer(7, outcome))).toEqual({ kind: "answer", rid: 7, outcome });
    expect(decodeNodeMessage(encodeAnswer(9, { status: "not-found" }))).toEqual({ kind: "answer", rid: 9, outcome: { status: "not-found" } });
  });

  it("answers with an error when the value cannot travel as JSON", () => {
    expect(decodeNodeMessage(encodeAnswer(3, { status: "ok", value: 10n }))).toMatchObject({
      outcome: { status: "error", error: { name: "WsmountError", code: "ERR_WSMOUNT_BROKER" } },
    });
  });

  it("refuses malformed messages", () => {
    for (const text of ["", "[]", "{}", '[1,"q","a",1,"",{"type":"session"}]', '[1,"q","a",-1,"c",{"type":"session"}]', '[1,"q","a",1,"c",{"type":"other"}]',
      '[1,"q","a",1,"c",{"type":"emitWithAck","event":"e","timeout":-1}]', '[1,"a",1,{"status":"maybe"}]', '[1,"a",1,{"status":"error","error":{"message":"m"}}]', '[2,"a",1,{"status":"ok"}]']) {
      expect(decodeNodeMessage(text), text).toBeNull();
    }
  });
});

describe("redisBroker options", () => {
  it("requires a prefix, so that two applications never share channels by accident", () => {
    expect(() => redisBroker({} as never)).toThrow(/option "prefix" must be/);
    expect(() => redisBroker({ prefix: "" })).toThrow(TypeError);
    expect(() => redisBroker({ prefix: "my app" })).toThrow(/"prefix"/);
    expect(() => redisBroker(undefined as never)).toThrow(TypeError);
  });

  it("names the bad option", () => {
    expect(() => redisBroker({ prefix: "p", url: "http://x" })).toThrow(/option "url"/);
    expect(() => redisBroker({ prefix: "p", client: {} as never })).toThrow(/option "client"/);
    expect(() => redisBroker({ prefix: "p", heartbeatInterval: 0 })).toThrow(/option "heartbeatInterval"/);
    expect(() => redisBroker({ prefix: "p", heartbeatInterval: 1000, nodeTimeout: 1000 })).toThrow(/option "nodeTimeout" must be more than heartbeatInterval/);
    expect(() => redisBroker({ prefix: "p", requestTimeout: 1.5 })).toThrow(/option "requestTimeout"/);
    expect(() => redisBroker({ prefix: "p", chanel: "x" } as never)).toThrow(/option "chanel"/);
    expect(() => redisBroker({ prefix: "p", redis: "x" as never })).toThrow(/option "redis"/);
  });

  it("opens no connection before an endpoint uses it", async () => {
    let connections = 0;
    const server = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    redisBroker({ prefix: "p", url: `redis://127.0.0.1:${(server.address() as AddressInfo).port}` });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await new Promise((resolve) => server.close(resolve));
    expect(connections).toBe(0);
  });
});
