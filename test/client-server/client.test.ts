/**
 * `wsmount/client` in Node (with `ws` injected) against real wsmount servers, through every mounting style:
 * events and acknowledgements both ways, rooms built from the application's own events, the welcome id,
 * reconnection after the server restarts on the same port, and the offline queue flushed on reconnect.
 */
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { connect, RemoteError, type ClientOptions, type WsmountClient } from "../../client/index.js";
import type { Connection, EndpointOptions } from "../../core/index.js";
import { mounts, type Mounted, type OnConnection } from "../helpers/mounts.js";
import { until, within } from "../helpers/client.js";

/** Events the test clients send. */
interface ClientEvents {
  note: (n: number) => void;
  add: (pair: [number, number]) => number;
  fail: () => void;
  whoami: () => string;
  join: (room: string) => number;
  say: (message: { room: string; text: string }) => void;
  ask: (question: string) => void;
}

/** Events the test server sends. */
interface ServerEvents {
  hello: (greeting: { id: string }) => void;
  said: (message: { room: string; text: string; from: string }) => void;
  confirm: (question: string) => boolean;
  answer: (outcome: { ok: boolean; value: unknown; code?: string }) => void;
}

type Client = WsmountClient<ServerEvents, ClientEvents>;

const fastReconnect = { initialDelay: 20, maxDelay: 100, factor: 2, jitter: 0 };

/** The server side every test uses: a small chat with rooms made from its own events. */
function chatServer(log: unknown[]): OnConnection {
  return (conn: Connection<any>) => {
    const typed = conn as unknown as Connection<unknown, ClientEvents, ServerEvents>;
    typed.on("note", (n) => void log.push(n));
    typed.on("add", ([a, b]) => a + b);
    typed.on("fail", () => {
      throw Object.assign(new Error("room is full"), { code: "E_FULL" });
    });
    typed.on("whoami", () => typed.id);
    typed.on("join", (room) => {
      typed.join(`room:${room}`);
      return typed.rooms.size;
    });
    typed.on("say", ({ room, text }) => {
      if (typed.rooms.has(`room:${room}`)) typed.to(`room:${room}`).emit("said", { room, text, from: typed.id });
    });
    // The server asks the client (an acknowledgement from the client to the server) and reports the outcome.
    typed.on("ask", (question) => {
      typed.emitWithAck("confirm", question, { timeout: 2_000 }).then(
        (value) => typed.emit("answer", { ok: true, value }),
        (error: { code?: string }) => typed.emit("answer", { ok: false, value: null, code: error.code }),
      );
    });
    typed.emit("hello", { id: typed.id });
  };
}

describe.each(mounts)("wsmount/client against $name", (style) => {
  let app: Mounted | undefined;
  const clients: Client[] = [];
  const errors: Error[] = [];

  async function start(options: EndpointOptions<any> = {}, log: unknown[] = [], port?: number): Promise<Mounted> {
    app = await style.start(options, chatServer(log), port === undefined ? {} : { port });
    app.endpoint.onError((error: Error) => void errors.push(error));
    return app;
  }

  function client(options: ClientOptions = {}): Client {
    const c = connect<ServerEvents, ClientEvents>(app!.url(), { WebSocket, reconnect: fastReconnect, ...options });
    clients.push(c);
    return c;
  }

  function opened(c: Client): Promise<void> {
    if (c.state === "open") return Promise.resolve();
    return within(new Promise<void>((resolve) => c.onConnect(resolve)), "the client to connect");
  }

  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await app?.close();
    app = undefined;
    errors.splice(0);
  });

  it("sends events both ways", async () => {
    const log: unknown[] = [];
    await start({}, log);
    const c = client();
    const greetings: Array<{ id: string }> = [];
    c.on("hello", (greeting) => void greetings.push(greeting));
    c.emit("note", 1);
    c.emit("note", 2);
    await until(() => log.length === 2 && greetings.length === 1, "both events and the greeting");
    expect(log).toEqual([1, 2]);
    expect(greetings[0]!.id).toEqual(expect.any(String));
  });

  it("gets acknowledgements from the server, and errors with their code", async () => {
    await start();
    const c = client();
    await expect(within(c.emitWithAck("add", [2, 3]), "add")).resolves.toBe(5);
    const failure = await within(c.emitWithAck("fail").catch((error: unknown) => error), "fail");
    expect(failure).toBeInstanceOf(RemoteError);
    expect(failure).toMatchObject({ code: "E_FULL", message: "room is full" });
    expect(errors.map((error) => (error.cause as { code?: string }).code)).toEqual(["E_FULL"]);
  });

  it("answers the server's calls: the server gets the result, or the error's code", async () => {
    await start();
    const c = client();
    const answers: Array<{ ok: boolean; value: unknown; code?: string }> = [];
    c.on("answer", (outcome) => void answers.push(outcome));
    c.on("confirm", (question) => {
      if (question === "explode?") throw Object.assign(new Error("no"), { code: "E_NO" });
      return question === "delete?";
    });
    c.emit("ask", "delete?");
    c.emit("ask", "keep?");
    c.emit("ask", "explode?");
    await until(() => answers.length === 3, "three answers");
    expect(answers).toEqual([
      { ok: true, value: true },
      { ok: true, value: false },
      { ok: false, value: null, code: "E_NO" },
    ]);
  });

  it("greets with the connection id: client.id is the server's connection id", async () => {
    await start({ welcome: true });
    const c = client({ waitForWelcome: true });
    await opened(c);
    expect(c.id).toEqual(expect.any(String));
    await expect(within(c.emitWithAck("whoami"), "whoami")).resolves.toBe(c.id);
  });

  it("delivers room messages to the room's members only, not to the sender", async () => {
    await start();
    const [a, b, outsider] = [client(), client(), client()];
    const received = new Map<Client, string[]>([
      [a, []],
      [b, []],
      [outsider, []],
    ]);
    for (const [c, list] of received) c.on("said", ({ room, text }) => void list.push(`${room}:${text}`));
    await expect(within(a.emitWithAck("join", "lobby"), "a joins")).resolves.toBe(1);
    await within(b.emitWithAck("join", "lobby"), "b joins");
    await within(outsider.emitWithAck("join", "elsewhere"), "outsider joins elsewhere");
    a.emit("say", { room: "lobby", text: "hi from a" });
    b.emit("say", { room: "lobby", text: "hi from b" });
    outsider.emit("say", { room: "lobby", text: "not a member" });
    await until(() => received.get(a)!.length === 1 && received.get(b)!.length === 1, "the room messages");
    // A last round trip on each client: anything else in flight would have arrived before its answer.
    await Promise.all([a, b, outsider].map((c) => within(c.emitWithAck("add", [0, 0]), "round trip")));
    expect(received.get(a)).toEqual(["lobby:hi from b"]);
    expect(received.get(b)).toEqual(["lobby:hi from a"]);
    expect(received.get(outsider)).toEqual([]);
  });

  it("reconnects by itself after the server restarts on the same port, and flushes its offline queue", async () => {
    const firstLog: unknown[] = [];
    const first = await start({ welcome: true }, firstLog);
    const port = first.port;
    const c = client({ waitForWelcome: true });
    const connects: Array<string | undefined> = [];
    const disconnects: number[] = [];
    c.onConnect(() => void connects.push(c.id));
    c.onDisconnect((code) => void disconnects.push(code));
    await until(() => connects.length === 1, "the first connection");

    await first.close();
    app = undefined;
    await until(() => c.state !== "open", "the client to notice the shutdown");
    expect(disconnects).toEqual([1001]);
    // Emitted while the server is down: queued, in order, calls included.
    expect(c.emit("note", 1)).toBe(true);
    const sum = c.emitWithAck("add", [20, 22], { timeout: 10_000 });
    expect(c.emit("note", 2)).toBe(true);

    const log: unknown[] = [];
    const second = await start({ welcome: true }, log, port);
    expect(second.port).toBe(port);
    await until(() => connects.length === 2, "the reconnection");
    await expect(within(sum, "the queued call's answer")).resolves.toBe(42);
    await until(() => log.length === 2, "the queued events");
    expect(log).toEqual([1, 2]);
    expect(firstLog).toEqual([]);
    // A new connection, a new id; and the connection works as before.
    expect(connects[1]).toEqual(expect.any(String));
    expect(connects[1]).not.toBe(connects[0]);
    await expect(within(c.emitWithAck("whoami"), "whoami")).resolves.toBe(connects[1]);
  });
});
