/**
 * The chat demo's server, driven by `wsmount/client` in Node: validation of names, rooms and messages,
 * limits, presence and notices pushed as events, history, typing, and two processes' worth of chat apps
 * sharing one broker (as examples/cluster runs it with Redis).
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { connect, RemoteError, type WsmountClient } from "../../client/index.js";
import type { Broker, Publication } from "../../core/index.js";
import { startChat, type RunningChat, type StartChatOptions } from "../../examples/chat/app.js";
import { Presence } from "../../examples/chat/presence.js";
import { LIMITS, type ChatMessage, type ClientEvents, type Notice, type Online, type RoomSummary, type ServerEvents, type User, type Welcome } from "../../examples/chat/shared/events.js";
import { checkName, checkRoom, checkText, nameKey, suffixed, uniqueName } from "../../examples/chat/shared/validate.js";
import { until, within } from "../helpers/client.js";

type ChatClient = WsmountClient<ServerEvents, ClientEvents>;

/** A person connected to a chat server, with everything the server pushed to them. */
class Person {
  readonly messages: ChatMessage[] = [];
  readonly notices: Notice[] = [];
  readonly members = new Map<string, string[]>();
  readonly typing: Array<{ room: string; user: string }> = [];
  online: Online | undefined;
  rooms: RoomSummary[] | undefined;
  me: User | undefined;

  constructor(readonly client: ChatClient) {
    client.on("message", (message) => void this.messages.push(message));
    client.on("notice", (notice) => void this.notices.push(notice));
    client.on("members", ({ room, members }) => void this.members.set(room, members.map((user) => user.name)));
    client.on("online", (online) => void (this.online = online));
    client.on("rooms", (rooms) => void (this.rooms = rooms));
    client.on("typing", ({ room, user }) => void this.typing.push({ room, user: user.name }));
  }

  async hello(name: string): Promise<Welcome> {
    const welcome = await within(this.client.emitWithAck("hello", { name }), `hello ${name}`);
    this.me = welcome.me;
    return welcome;
  }

  call<K extends "join" | "leave" | "send">(event: K, data: Parameters<ClientEvents[K]>[0]): Promise<ReturnType<ClientEvents[K]>> {
    const untyped = this.client as unknown as { emitWithAck(event: string, data: unknown): Promise<unknown> };
    return within(untyped.emitWithAck(event, data), event) as Promise<ReturnType<ClientEvents[K]>>;
  }

  /** The code of the refused call. */
  async refusal(promise: Promise<unknown>): Promise<string | undefined> {
    const error = await within(promise.then(() => undefined, (failure: unknown) => failure), "a refusal");
    expect(error).toBeInstanceOf(RemoteError);
    return (error as RemoteError).code;
  }

  texts(room: string): string[] {
    return this.messages.filter((message) => message.room === room).map((message) => `${message.from.name}: ${message.text}`);
  }
}

/** One in-memory broker shared by several chat apps in this process: what Redis does between processes. */
function sharedBroker(): Broker & { cut(channel: (deliver: (publication: Publication) => void) => boolean): void } {
  const channels = new Map<string, Set<(publication: Publication) => void>>();
  return {
    connect(channel, deliver, onError) {
      const subscribers = channels.get(channel) ?? new Set();
      channels.set(channel, subscribers);
      subscribers.add(deliver);
      let open = true;
      return {
        publish(publication) {
          if (!open) return;
          for (const subscriber of [...subscribers]) {
            try {
              subscriber(publication);
            } catch (error) {
              onError(error as Error, "deliver");
            }
          }
        },
        async close() {
          open = false;
          subscribers.delete(deliver);
        },
      };
    },
    cut(predicate) {
      for (const subscribers of channels.values()) for (const deliver of [...subscribers]) if (predicate(deliver)) subscribers.delete(deliver);
    },
  };
}

const running: RunningChat[] = [];
const people: Person[] = [];

afterEach(async () => {
  for (const person of people.splice(0)) person.client.close();
  for (const chat of running.splice(0)) await chat.stop();
});

async function chatServer(options: StartChatOptions = {}): Promise<RunningChat> {
  const chat = await startChat({ port: 0, ...options });
  running.push(chat);
  return chat;
}

function personOn(chat: RunningChat): Person {
  const client = connect<ServerEvents, ClientEvents>(`ws://127.0.0.1:${chat.port}/chat`, { WebSocket, reconnect: false });
  const person = new Person(client);
  people.push(person);
  return person;
}

async function named(chat: RunningChat, name: string, rooms: string[] = []): Promise<Person> {
  const person = personOn(chat);
  await person.hello(name);
  for (const room of rooms) await person.call("join", room);
  return person;
}

describe("chat: validation", () => {
  it("cleans names and refuses empty, too long, control and bidirectional characters", () => {
    expect(checkName("  Ada   King  ")).toEqual({ ok: true, value: "Ada King" });
    expect(checkName("e\u0301")).toEqual({ ok: true, value: "é" });
    expect(checkName("👩‍💻".repeat(8))).toMatchObject({ ok: true });
    // Invisible and bidirectional characters are removed (what everyone sees is what is kept); NFKC.
    expect(checkName("Al\u200Bi\u00ADce\u2060")).toEqual({ ok: true, value: "Alice" });
    expect(checkName("evil\u202Egnp.exe")).toEqual({ ok: true, value: "evilgnp.exe" });
    expect(checkName("\uFF21\uFF44\uFF41\u3000King")).toEqual({ ok: true, value: "Ada King" });
    expect(checkName("\u{1F469}\u200D\u{1F4BB} \u2764\uFE0F")).toEqual({ ok: true, value: "\u{1F469}\u200D\u{1F4BB} \u2764\uFE0F" });
    for (const bad of ["", "   ", "\u200B\u200B", "\u2800", "\u3164", "\u0301\u0301", "Z\u0301\u0302\u0303\u0304\u0305", "a\u0007b", "tab\there", "line\nbreak", "x".repeat(LIMITS.name + 1), "x".repeat(10_000), 42, null]) {
      expect(checkName(bad), JSON.stringify(bad)).toMatchObject({ ok: false });
    }
    expect(checkName("x".repeat(LIMITS.name))).toMatchObject({ ok: true });
  });

  it("normalizes room names and refuses others", () => {
    expect(checkRoom(" #Book Club ")).toEqual({ ok: true, value: "book-club" });
    for (const bad of ["", "#", "a/b", "-lead", "ünï", "x".repeat(LIMITS.room + 1), ["lobby"]]) expect(checkRoom(bad), String(bad)).toMatchObject({ ok: false });
  });

  it("keeps message text as typed, minus control characters, within length and line limits", () => {
    expect(checkText("  <b>hi</b>\r\nthere\u0000\u202E  ")).toEqual({ ok: true, value: "<b>hi</b>\nthere" });
    expect(checkText("a\n\n\n\nb")).toEqual({ ok: true, value: "a\n\nb" });
    expect(checkText("😀".repeat(LIMITS.text))).toMatchObject({ ok: true });
    for (const bad of ["", " \n ", "x".repeat(LIMITS.text + 1), Array(LIMITS.lines + 1).fill("l").join("\n"), {}]) expect(checkText(bad)).toMatchObject({ ok: false });
  });

  it("suffixes a taken name within the length limit", () => {
    const taken = new Set(["ann", "ann 2", "x".repeat(LIMITS.name)]);
    expect(uniqueName("Bob", (name) => taken.has(name.toLowerCase()))).toBe("Bob");
    expect(uniqueName("Ann", (name) => taken.has(name.toLowerCase()))).toBe("Ann 3");
    const long = uniqueName("x".repeat(LIMITS.name), (name) => taken.has(name));
    expect(long).toBe(`${"x".repeat(LIMITS.name - 2)} 2`);
  });

  it("suffixes a name within the length limit", () => {
    expect(suffixed("Ann", 2)).toBe("Ann 2");
    expect(suffixed("x".repeat(LIMITS.name), 2)).toBe(`${"x".repeat(LIMITS.name - 2)} 2`);
    // Shortened before the suffix, without a space left dangling.
    expect(suffixed(`${"x".repeat(LIMITS.name - 4)} yyy`, 10)).toBe(`${"x".repeat(LIMITS.name - 4)} 10`);
  });

  it("compares names by a skeleton: case, width, accents, invisible characters and Latin look-alikes fold together", () => {
    const alice = nameKey("Alice");
    for (const same of ["ALICE", "alice", "\u0410lice", "Al\u0456ce", "\u0391LICE", "AIice", "Al1ce", "\uFF21lice", "Álice", "A\u0301lice", "Al\u200Bice", " Alice ", "\uD835\uDC00lice"]) {
      expect(nameKey(same), JSON.stringify(same)).toBe(alice);
    }
    for (const other of ["Alicia", "Alice 2", "Bob", "Ali ce"]) expect(nameKey(other), other).not.toBe(alice);
    expect(nameKey("rn")).toBe(nameKey("m"));
    expect(nameKey("B0B")).toBe(nameKey("bob"));
    // Names in other scripts are kept apart from each other as typed (only Latin look-alikes fold).
    expect(nameKey("Наташа")).not.toBe(nameKey("Натаща"));
  });
});

describe("chat: the server", () => {
  it("refuses bad names with a reason, calls before hello, and a second hello", async () => {
    const chat = await chatServer();
    const person = personOn(chat);
    for (const name of ["", "a\u0007b", "x".repeat(LIMITS.name + 1)]) expect(await person.refusal(person.client.emitWithAck("hello", { name }))).toBe("E_NAME");
    expect(await person.refusal(person.client.emitWithAck("hello", null as never))).toBe("E_NAME");
    expect(await person.refusal(person.call("join", "lobby"))).toBe("E_NOT_NAMED");
    expect(await person.refusal(person.call("send", { room: "lobby", text: "hi" }))).toBe("E_NOT_NAMED");
    await person.hello("  Ada   King ");
    expect(person.me).toEqual({ id: expect.any(String), name: "Ada King" });
    expect(await person.refusal(person.client.emitWithAck("hello", { name: "Other" }))).toBe("E_ALREADY_NAMED");
  });

  it("keeps names unique, ignoring case, and frees a name when its owner leaves", async () => {
    const chat = await chatServer();
    const ann = await named(chat, "Ann");
    const second = await named(chat, "ANN");
    expect(second.me!.name).toBe("ANN 2");
    ann.client.close();
    await until(() => !chat.presence.isNameTaken("Ann"), "Ann to go offline");
    expect((await named(chat, "ann")).me!.name).toBe("ann");
  });

  it("pushes join and leave notices to the others, members to the room and who is online to everyone", async () => {
    const chat = await chatServer();
    const ann = await named(chat, "Ann", ["lobby"]);
    const bob = await named(chat, "Bob", ["lobby"]);
    const cleo = await named(chat, "Cleo", ["garden"]);
    await until(() => ann.members.get("lobby")?.length === 2 && ann.online?.total === 3 && ann.rooms?.length === 2, "Ann to see Bob and Cleo");
    expect(ann.members.get("lobby")).toEqual(["Ann", "Bob"]);
    expect(ann.online!.users.map((user) => user.name)).toEqual(["Ann", "Bob", "Cleo"]);
    expect(ann.rooms).toEqual([
      { name: "lobby", members: 2 },
      { name: "garden", members: 1 },
    ]);
    expect(ann.members.has("garden")).toBe(false);
    expect(ann.notices.map((n) => `${n.user.name} ${n.kind} ${n.room}`)).toEqual(["Bob joined lobby"]);
    expect(bob.notices).toEqual([]);
    expect(cleo.notices).toEqual([]);

    await bob.call("leave", "lobby");
    bob.client.close();
    await until(() => ann.online?.total === 2 && ann.members.get("lobby")?.length === 1, "Bob to be gone");
    expect(ann.notices.map((n) => `${n.user.name} ${n.kind} ${n.room}`)).toEqual(["Bob joined lobby", "Bob left lobby"]);
    expect(ann.rooms).toEqual([
      { name: "garden", members: 1 },
      { name: "lobby", members: 1 },
    ]);

    // Closing the page (no leave call) is a leave for every room.
    await cleo.call("join", "lobby");
    await until(() => ann.notices.length === 3, "Cleo's join");
    cleo.client.close();
    await until(() => ann.notices.length === 4, "Cleo's leave");
    expect(ann.notices[3]).toMatchObject({ kind: "left", room: "lobby", user: { name: "Cleo" } });
    await until(() => ann.members.get("lobby")?.length === 1, "the lobby without Cleo");
  });

  it("delivers messages to the room (sender included), answers with the stamped message, and keeps history", async () => {
    const chat = await chatServer();
    const ann = await named(chat, "Ann", ["lobby"]);
    const bob = await named(chat, "Bob", ["lobby"]);
    const outsider = await named(chat, "Out", ["elsewhere"]);
    const stamped = await ann.call("send", { room: "#Lobby", text: "  hello <b>there</b>\u0000 " });
    expect(stamped).toMatchObject({ room: "lobby", text: "hello <b>there</b>", from: ann.me, id: expect.any(String), at: expect.any(Number) });
    await bob.call("send", { room: "lobby", text: "hi Ann" });
    await until(() => ann.messages.length === 2 && bob.messages.length === 2, "both messages on both sides");
    expect(ann.texts("lobby")).toEqual(["Ann: hello <b>there</b>", "Bob: hi Ann"]);
    expect(bob.messages).toEqual(ann.messages);
    await within(outsider.client.emitWithAck("join", "elsewhere"), "a round trip");
    expect(outsider.messages).toEqual([]);

    const late = await named(chat, "Late");
    const joined = await late.call("join", "lobby");
    expect(joined.history.map((message) => message.text)).toEqual(["hello <b>there</b>", "hi Ann"]);
    expect(joined.members.map((user) => user.name)).toEqual(["Ann", "Bob", "Late"]);
  });

  it("refuses messages to rooms one is not in, empty or too long ones, and more than the rate allows", async () => {
    const chat = await chatServer();
    const ann = await named(chat, "Ann", ["lobby"]);
    expect(await ann.refusal(ann.call("send", { room: "garden", text: "hi" }))).toBe("E_NOT_JOINED");
    expect(await ann.refusal(ann.call("send", { room: "no/such", text: "hi" }))).toBe("E_ROOM");
    expect(await ann.refusal(ann.call("send", { room: "lobby", text: "   " }))).toBe("E_TEXT");
    expect(await ann.refusal(ann.call("send", { room: "lobby", text: "x".repeat(LIMITS.text + 1) }))).toBe("E_TEXT");
    expect(await ann.refusal(ann.call("send", null as never))).toBe("E_ROOM");
    for (let i = 0; i < LIMITS.rateCount; i++) await ann.call("send", { room: "lobby", text: `message ${i}` });
    expect(await ann.refusal(ann.call("send", { room: "lobby", text: "one too many" }))).toBe("E_RATE");
    await until(() => ann.messages.length === LIMITS.rateCount, "the accepted messages");
    expect(ann.messages.at(-1)!.text).toBe(`message ${LIMITS.rateCount - 1}`);
  });

  it("limits the rooms one person can be in, and the history to the latest messages", async () => {
    const chat = await chatServer();
    const ann = await named(chat, "Ann");
    for (let i = 0; i < LIMITS.roomsPerUser; i++) await ann.call("join", `room-${i}`);
    expect(await ann.refusal(ann.call("join", "one-more"))).toBe("E_TOO_MANY_ROOMS");
    // Joining a room one is already in is not a new room.
    expect((await ann.call("join", "room-0")).room).toBe("room-0");

    const writers = await Promise.all(Array.from({ length: 6 }, (_, i) => named(chat, `Writer ${i}`, ["busy"])));
    for (let i = 0; i < LIMITS.history + 5; i++) await writers[i % writers.length]!.call("send", { room: "busy", text: `m${i}` });
    const joined = await ann.call("join", "busy").catch(() => undefined);
    expect(joined).toBeUndefined(); // Ann is in as many rooms as allowed
    await ann.call("leave", "room-9");
    const history = (await ann.call("join", "busy")).history.map((message) => message.text);
    expect(history).toHaveLength(LIMITS.history);
    expect(history[0]).toBe("m5");
    expect(history.at(-1)).toBe(`m${LIMITS.history + 4}`);
  });

  it("relays typing to the others in the room only", async () => {
    const chat = await chatServer();
    const ann = await named(chat, "Ann", ["lobby"]);
    const bob = await named(chat, "Bob", ["lobby"]);
    const out = await named(chat, "Out", ["garden"]);
    ann.client.emit("typing", "lobby");
    ann.client.emit("typing", "garden"); // not Ann's room: ignored
    await until(() => bob.typing.length === 1, "Bob to see Ann typing");
    await Promise.all([ann, bob, out].map((p) => within(p.client.emitWithAck("join", "lobby"), "round trip")));
    expect(bob.typing).toEqual([{ room: "lobby", user: "Ann" }]);
    expect(ann.typing).toEqual([]);
    expect(out.typing).toEqual([]);
  });
});

describe("chat: several processes sharing a broker", () => {
  it("one chat across two servers: presence, unique names, notices and messages cross between them", async () => {
    const broker = sharedBroker();
    const one = await chatServer({ broker });
    const two = await chatServer({ broker });
    const ann = await named(one, "Ann", ["lobby"]);
    const bob = await named(two, "Bob", ["lobby"]);
    expect((await named(two, "ann")).me!.name).toBe("ann 2");

    await until(() => ann.online?.total === 3 && ann.members.get("lobby")?.length === 2, "Ann (server one) to see Bob (server two)");
    expect(ann.members.get("lobby")).toEqual(["Ann", "Bob"]);
    expect(ann.notices.map((n) => `${n.user.name} ${n.kind}`)).toEqual(["Bob joined"]);

    await bob.call("send", { room: "lobby", text: "from server two" });
    await ann.call("send", { room: "lobby", text: "from server one" });
    await until(() => ann.messages.length === 2 && bob.messages.length === 2, "messages on both servers");
    expect(ann.texts("lobby")).toEqual(["Bob: from server two", "Ann: from server one"]);
    expect(bob.texts("lobby")).toEqual(ann.texts("lobby"));
    // Each server keeps the whole history: a newcomer on server one sees server two's message.
    const late = await named(one, "Late");
    expect((await late.call("join", "lobby")).history.map((message) => message.text)).toEqual(["from server two", "from server one"]);

    // Server two shuts down: it says goodbye, and server one forgets its people at once.
    await two.stop();
    running.splice(running.indexOf(two), 1);
    await until(() => ann.online?.total === 2, "Ann to see server two's people go");
    expect(ann.online!.users.map((user) => user.name)).toEqual(["Ann", "Late"]);
    expect(ann.members.get("lobby")).toEqual(["Ann", "Late"]);
  });

  it("a process that stops answering (crashed) is forgotten after the expiry", async () => {
    const broker = sharedBroker();
    const here = new Presence({ broker, heartbeat: 40 });
    const there = new Presence({ broker, heartbeat: 40 });
    try {
      there.add({ id: "b", name: "Bob" });
      there.join("b", "lobby");
      await until(() => here.members("lobby").length === 1, "Bob to be seen here");
      const changes: boolean[] = [];
      here.onChange((change) => void changes.push(change.users));
      // Cut "there" off the broker without a goodbye, as a crash would.
      broker.cut(() => true);
      await until(() => here.online().total === 0, "Bob to expire", 2_000);
      expect(here.members("lobby")).toEqual([]);
      await until(() => changes.includes(true), "the change to be announced");
    } finally {
      await Promise.all([here.close(), there.close()]);
    }
  });
});

describe("examples/chat/server.ts (npm start)", () => {
  it("listens on $PORT, serves the page, its script and the client, chats, and closes gracefully on SIGTERM", async () => {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toBe("tsx examples/chat/server.ts");
    const child = spawn(process.execPath, ["--import", "tsx", "examples/chat/server.ts"], { env: { ...process.env, PORT: "0" }, stdio: ["ignore", "pipe", "pipe"] });
    try {
      let output = "";
      child.stderr!.on("data", (chunk: Buffer) => (output += chunk));
      const port = await within(
        new Promise<number>((resolve, reject) => {
          child.stdout!.on("data", (chunk: Buffer) => {
            output += chunk;
            const match = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
            if (match) resolve(Number(match[1]));
          });
          child.once("exit", (code) => reject(new Error(`the chat exited with ${code}: ${output}`)));
        }),
        "the chat to listen",
        20_000,
      );
      const base = `http://127.0.0.1:${port}`;
      const page = await fetch(`${base}/`);
      expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
      const html = await page.text();
      expect(html).toContain('<script type="module" src="/app.js"></script>');
      const script = await fetch(`${base}/app.js`);
      expect(script.headers.get("content-type")).toBe("application/javascript; charset=utf-8");
      expect(await script.text()).toContain('from "/wsmount.js"');
      const client = await fetch(`${base}/wsmount.js`);
      expect(client.status).toBe(200);
      expect(client.headers.get("etag")).toEqual(expect.any(String));

      const person = new Person(connect<ServerEvents, ClientEvents>(`ws://127.0.0.1:${port}/chat`, { WebSocket, reconnect: false }));
      people.push(person);
      await person.hello("Ada");
      await person.call("join", "lobby");
      await person.call("send", { room: "lobby", text: "hello" });
      await until(() => person.messages.length === 1, "the message back");
      const closed = new Promise<number>((resolve) => person.client.onDisconnect((code) => resolve(code)));
      child.kill("SIGTERM");
      expect(await within(closed, "the close on shutdown")).toBe(1001);
      const [code] = (await within(once(child, "exit"), "the process to exit")) as [number | null];
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  }, 30_000);
});
