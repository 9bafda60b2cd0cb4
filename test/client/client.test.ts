import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import {
  AckError,
  connect,
  ProtocolError,
  RemoteError,
  type ClientOptions,
  type WsmountClient,
} from "../../client/index.js";
import { decode, encodeEvent } from "../../core/protocol/index.js";
import { startTestServer, type TestServer, waitUntil } from "./test-server.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(
  serverOptions?: Parameters<typeof startTestServer>[0],
  clientOptions: ClientOptions = {},
): Promise<{ server: TestServer; client: WsmountClient }> {
  const server = await startTestServer(serverOptions);
  cleanups.push(() => server.stop());
  const client = connect(server.url, { WebSocket, reconnect: false, ...clientOptions });
  cleanups.push(() => client.close());
  return { server, client };
}

function opened(client: WsmountClient): Promise<void> {
  return new Promise((resolve) => {
    if (client.state === "open") resolve();
    const off = client.onConnect(() => {
      off();
      resolve();
    });
  });
}

describe("client: events", () => {
  it("emits events the server receives, in order, and receives the server's events", async () => {
    const { server, client } = await setup();
    const got: unknown[] = [];
    client.on("news", (data) => void got.push(data));
    await opened(client);
    expect(client.state).toBe("open");
    expect(client.emit("chat", { text: "a" })).toBe(true);
    expect(client.emit("chat", { text: "b" })).toBe(true);
    expect(client.emit("ping")).toBe(true);
    await waitUntil(() => server.events.length === 3, "three events");
    expect(server.events).toEqual([
      { name: "chat", data: { text: "a" }, ackId: undefined },
      { name: "chat", data: { text: "b" }, ackId: undefined },
      { name: "ping", data: undefined, ackId: undefined },
    ]);
    server.sendAll(encodeEvent("news", [1, "two", null]));
    server.sendAll(encodeEvent("news"));
    await waitUntil(() => got.length === 2, "two news events");
    expect(got).toEqual([[1, "two", null], undefined]);
  });

  it("queues events emitted before the connection opens and sends them first", async () => {
    const { server, client } = await setup();
    expect(client.state).toBe("connecting");
    expect(client.emit("early", 1)).toBe(true);
    client.onConnect(() => client.emit("on-connect"));
    await waitUntil(() => server.events.length === 2, "two events");
    expect(server.events.map((e) => e.name)).toEqual(["early", "on-connect"]);
  });

  it("calls every listener of an event, and removes listeners with the returned function", async () => {
    const { server, client } = await setup();
    const calls: string[] = [];
    const offA = client.on("tick", () => void calls.push("a"));
    client.on("tick", () => void calls.push("b"));
    await opened(client);
    server.sendAll(encodeEvent("tick"));
    await waitUntil(() => calls.length === 2, "two calls");
    offA();
    server.sendAll(encodeEvent("tick"));
    await waitUntil(() => calls.length === 3, "third call");
    expect(calls).toEqual(["a", "b", "b"]);
  });

  it("reports an error thrown by a listener to onError and keeps delivering", async () => {
    const { server, client } = await setup();
    const errors: unknown[] = [];
    const got: unknown[] = [];
    client.onError((error) => errors.push(error));
    client.on("boom", () => {
      throw new Error("listener bug");
    });
    client.on("boom", (data) => void got.push(data));
    await opened(client);
    server.sendAll(encodeEvent("boom", 1));
    server.sendAll(encodeEvent("boom", 2));
    await waitUntil(() => got.length === 2, "both events");
    expect(errors.map((e) => (e as Error).message)).toEqual(["listener bug", "listener bug"]);
  });

  it("throws synchronously for an invalid event name or unserializable data", async () => {
    const { client } = await setup();
    expect(() => client.emit("bad name")).toThrow(TypeError);
    expect(() => client.emit("ok", 10n)).toThrow(TypeError);
    expect(() => client.emitWithAck("bad name")).toThrow(TypeError);
  });
});

describe("client: acknowledgements", () => {
  it("resolves with the server handler's result (sync and async)", async () => {
    const { server, client } = await setup();
    server.on("add", (data) => (data as number[]).reduce((a, b) => a + b, 0));
    server.on("slow-echo", async (data) => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      return { echoed: data };
    });
    server.on("nothing", () => undefined);
    await expect(client.emitWithAck("add", [1, 2, 3])).resolves.toBe(6);
    await expect(client.emitWithAck("slow-echo", "x")).resolves.toEqual({ echoed: "x" });
    await expect(client.emitWithAck("nothing")).resolves.toBeUndefined();
    expect(server.events.map((e) => e.ackId)).toEqual([0, 1, 2]);
  });

  it("matches answers to calls by ack id when they come back out of order", async () => {
    const { server, client } = await setup();
    server.on("wait", async (ms) => {
      await new Promise((resolve) => setTimeout(resolve, ms as number));
      return ms;
    });
    const results = await Promise.all([client.emitWithAck("wait", 60), client.emitWithAck("wait", 1), client.emitWithAck("wait", 30)]);
    expect(results).toEqual([60, 1, 30]);
  });

  it("rejects with a RemoteError carrying the server's message and code, not its stack", async () => {
    const { server, client } = await setup();
    server.on("fail", () => {
      throw Object.assign(new Error("room is full"), { code: "E_FULL" });
    });
    server.on("fail-plain", async () => {
      throw new Error("no code");
    });
    const error = await client.emitWithAck("fail").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteError);
    expect(error).toMatchObject({ name: "RemoteError", message: "room is full", code: "E_FULL", event: "fail" });
    const plain = await client.emitWithAck("fail-plain").catch((e: unknown) => e);
    expect(plain).toMatchObject({ message: "no code", code: undefined });
  });

  it("rejects with ERR_WSMOUNT_UNKNOWN_EVENT when the server has no handler", async () => {
    const { client } = await setup();
    await expect(client.emitWithAck("nobody-listens", 1)).rejects.toMatchObject({
      name: "RemoteError",
      code: "ERR_WSMOUNT_UNKNOWN_EVENT",
    });
  });

  it("times out with ERR_WSMOUNT_ACK_TIMEOUT (per call and client default) and ignores the late answer", async () => {
    const { server, client } = await setup(undefined, { ackTimeout: 50 });
    const release: Array<() => void> = [];
    server.on("hang", () => new Promise<string>((resolve) => release.push(() => resolve("late"))));
    await opened(client);
    const byDefault = client.emitWithAck("hang").catch((e: unknown) => e);
    const perCall = client.emitWithAck("hang", undefined, { timeout: 20 }).catch((e: unknown) => e);
    for (const error of [await perCall, await byDefault]) {
      expect(error).toBeInstanceOf(AckError);
      expect(error).toMatchObject({ code: "ERR_WSMOUNT_ACK_TIMEOUT", event: "hang" });
    }
    for (const fn of release) fn();
    // The late answers are ignored; the client still works.
    server.on("ok", () => "fine");
    await expect(client.emitWithAck("ok")).resolves.toBe("fine");
  });

  it("rejects pending calls with ERR_WSMOUNT_DISCONNECTED when the connection drops", async () => {
    const { server, client } = await setup();
    server.on("hang", () => new Promise(() => {}));
    await opened(client);
    const pending = client.emitWithAck("hang", 1, { timeout: 0 });
    await waitUntil(() => server.events.length === 1, "the call");
    for (const socket of server.sockets) socket.terminate();
    await expect(pending).rejects.toMatchObject({ name: "AckError", code: "ERR_WSMOUNT_DISCONNECTED" });
  });

  it("rejects pending and queued calls with ERR_WSMOUNT_CLOSED on close()", async () => {
    const { client } = await setup();
    const queued = client.emitWithAck("x", 1, { timeout: 0 });
    client.close();
    expect(client.state).toBe("closed");
    await expect(queued).rejects.toMatchObject({ code: "ERR_WSMOUNT_CLOSED" });
    await expect(client.emitWithAck("x")).rejects.toMatchObject({ code: "ERR_WSMOUNT_CLOSED" });
    expect(client.emit("x")).toBe(false);
  });

  it("answers the server's calls with the handler's result or error", async () => {
    const { server, client } = await setup();
    const answers: unknown[] = [];
    server.onOther = (message) => answers.push(message);
    client.on("double", (n) => (n as number) * 2);
    client.on("async", async () => ({ ok: true }));
    client.on("refuse", () => {
      throw Object.assign(new Error("not allowed"), { code: "E_AUTH" });
    });
    client.on("bigint", () => 1n);
    await opened(client);
    server.sendAll(encodeEvent("double", 21, 1));
    server.sendAll(encodeEvent("async", undefined, 2));
    server.sendAll(encodeEvent("refuse", undefined, 3));
    server.sendAll(encodeEvent("missing", undefined, 4));
    server.sendAll(encodeEvent("bigint", undefined, 5));
    await waitUntil(() => answers.length === 5, "five answers");
    const byId = new Map(answers.map((a) => [(a as { ackId: number }).ackId, a]));
    expect(byId.get(1)).toEqual({ kind: "ack", ackId: 1, result: 42 });
    expect(byId.get(2)).toEqual({ kind: "ack", ackId: 2, result: { ok: true } });
    expect(byId.get(3)).toEqual({ kind: "ackError", ackId: 3, error: { message: "not allowed", code: "E_AUTH" } });
    expect(byId.get(4)).toMatchObject({ kind: "ackError", ackId: 4, error: { code: "ERR_WSMOUNT_UNKNOWN_EVENT" } });
    expect(byId.get(5)).toMatchObject({ kind: "ackError", ackId: 5, error: { code: "ERR_WSMOUNT_INVALID_RESULT" } });
    const refused = server.frames.find((f) => f.includes("not allowed"));
    expect(refused).toBe('wsm1["x",3,{"message":"not allowed","code":"E_AUTH"}]');
  });
});

describe("client: raw messages, protocol errors, welcome, subprotocols", () => {
  it("sends and receives raw text and binary beside events", async () => {
    const { server, client } = await setup();
    server.onRaw = (data, socket) => socket.send(typeof data === "string" ? `echo:${data}` : data, { binary: typeof data !== "string" });
    const raw: Array<string | ArrayBuffer> = [];
    const events: unknown[] = [];
    client.onMessage((data) => raw.push(data));
    client.on("evt", (data) => void events.push(data));
    expect(client.send("too early")).toBe(false);
    await opened(client);
    expect(client.send("hello")).toBe(true);
    client.emit("evt-to-server", 1);
    expect(client.send(new Uint8Array([1, 2, 3]))).toBe(true);
    await waitUntil(() => raw.length === 2, "raw echoes");
    server.sendAll(encodeEvent("evt", "between"));
    server.sendAll('["not","an","envelope"]');
    await waitUntil(() => raw.length === 3 && events.length === 1, "raw text and the event");
    expect(raw[0]).toBe("echo:hello");
    expect(new Uint8Array(raw[1] as ArrayBuffer)).toEqual(new Uint8Array([1, 2, 3]));
    expect(raw[2]).toBe('["not","an","envelope"]');
    expect(events).toEqual(["between"]);
    expect(server.raw).toEqual(["hello", Buffer.from([1, 2, 3])]);
    expect(server.events.map((e) => e.name)).toEqual(["evt-to-server"]);
  });

  it("reports the server's error notice and invalid envelopes as ProtocolError, answering a broken call", async () => {
    const { server, client } = await setup();
    const errors: ProtocolError[] = [];
    const answers: unknown[] = [];
    server.onOther = (message) => message.kind === "ackError" && answers.push(message);
    client.onError((error) => errors.push(error as ProtocolError));
    await opened(client);
    client.send('wsm1["e","no good name"]');
    await waitUntil(() => errors.length === 1, "the server's error notice");
    expect(errors[0]).toBeInstanceOf(ProtocolError);
    expect(errors[0]).toMatchObject({ code: "ERR_WSMOUNT_INVALID_ENVELOPE", message: "bad-name" });
    server.sendAll("wsm1{broken");
    server.sendAll('wsm1["c",9,"bad name"]');
    await waitUntil(() => errors.length === 3 && answers.length === 1, "two more errors and one answer");
    expect(errors.slice(1).map((e) => e.code)).toEqual(["ERR_WSMOUNT_INVALID_ENVELOPE", "ERR_WSMOUNT_INVALID_ENVELOPE"]);
    expect(answers[0]).toMatchObject({ kind: "ackError", ackId: 9, error: { code: "ERR_WSMOUNT_INVALID_ENVELOPE" } });
  });

  it("learns its id from the welcome, and with waitForWelcome opens only after it", async () => {
    const { server, client } = await setup({ welcomeId: "conn" }, { waitForWelcome: true });
    let idAtConnect: string | undefined;
    client.onConnect(() => {
      idAtConnect = client.id;
    });
    client.emit("queued-until-welcome");
    await opened(client);
    expect(idAtConnect).toBe("conn-1");
    expect(client.id).toBe("conn-1");
    await waitUntil(() => server.events.length === 1, "the queued event");
    client.close();
    await waitUntil(() => client.id === undefined, "id cleared on disconnect");
  });

  it("without waitForWelcome, opens at once and sets the id when the welcome arrives", async () => {
    const { client } = await setup({ welcomeId: "w" });
    await opened(client);
    await waitUntil(() => client.id === "w-1", "the id");
  });

  it("offers subprotocols and exposes the chosen one", async () => {
    const { client } = await setup({ protocols: ["v2.events", "v1.events"] }, { protocols: ["v1.events", "other"] });
    await opened(client);
    expect(client.protocol).toBe("v1.events");
  });

  it("decodes what it sends with the shared codec", () => {
    expect(decode(encodeEvent("a", 1, 2))).toMatchObject({ kind: "event", ackId: 2 });
  });
});
