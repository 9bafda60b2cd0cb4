/**
 * The chat demo's server, driven by `wsmount/client` in Node: validation of names, rooms and messages,
 * limits, presence and notices pushed as events, history, typing, and two processes' worth of chat apps
 * sharing one broker (as examples/cluster runs it with Redis).
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { connect, RemoteError, type WsmountClient } from "../../client/index.js";
import type { Broker, Publication } from "../../core/index.js";
import { startChat, type RunningChat, type StartChatOptions } from "../../examples/chat/app.js";
import { Presence, type PresenceChange } from "../../examples/chat/presence.js";
import {
  LIMITS,
  type ChatMessage,
  type ClientEvents,
  type Joined,
  type Notice,
  type Online,
  type OnlineDelta,
  type PresenceDelta,
  type RoomSummary,
  type ServerEvents,
  type User,
  type Welcome,
} from "../../examples/chat/shared/events.js";
import { checkName, checkRoom, checkText, nameKey, suffixed } from "../../examples/chat/shared/validate.js";
import { until, within } from "../helpers/client.js";

type ChatClient = WsmountClient<ServerEvents, ClientEvents>;

/** A person connected to a chat server, with everything the server pushed to them. */
class Person {
  readonly messages: ChatMessage[] = [];
  readonly notices: Notice[] = [];
  readonly typing: Array<{ room: string; user: string }> = [];
  readonly deltas: PresenceDelta[] = [];
  me: User | undefined;
  // What the page keeps: snapshots from the answers to hello and join, brought up to date by deltas.
  readonly #members = new Map<string, Map<string, User>>();
  readonly #versions = new Map<string, number>();
  #online: { total: number; users: Map<string, User> } | undefined;
  #directory: Map<string, number> | undefined;
  // Deltas read before the answer they follow (ws delivers the messages of one chunk in one go).
  readonly #early = new Map<string, PresenceDelta[]>();
  #greeting: Array<() => void> | null = null;

  constructor(readonly client: ChatClient) {
    client.on("message", (message) => void this.messages.push(message));
    client.on("notice", (notice) => void this.notices.push(notice));
    client.on("presence", (delta) => {
      this.deltas.push(delta);
      if (this.#early.has(delta.room)) this.#early.get(delta.room)!.push(delta);
      else this.#applyPresence(delta);
    });
    client.on("online", (delta) => this.#later(() => this.#applyOnline(delta)));
    client.on("rooms", (changed) =>
      this.#later(() => {
        for (const { name, members } of changed) {
          if (members > 0) this.#directory?.set(name, members);
          else this.#directory?.delete(name);
        }
      }),
    );
    client.on("typing", ({ room, user }) => void this.typing.push({ room, user: user.name }));
  }

  /** The names in each room one joined, sorted. */
  get members(): Map<string, string[]> {
    return new Map([...this.#members].map(([room, members]) => [room, names([...members.values()])]));
  }

  /** Who is online, names sorted. */
  get online(): Online | undefined {
    return this.#online && { total: this.#online.total, users: [...this.#online.users.values()].sort((a, b) => a.name.localeCompare(b.name)) };
  }

  /** Rooms and their members, busiest first. */
  get rooms(): RoomSummary[] | undefined {
    if (this.#directory === undefined) return undefined;
    return [...this.#directory].map(([name, members]) => ({ name, members })).sort((a, b) => b.members - a.members || a.name.localeCompare(b.name));
  }

  async hello(name: string): Promise<Welcome> {
    this.#greeting = [];
    try {
      const welcome = await within(this.client.emitWithAck("hello", { name }), `hello ${name}`);
      this.me = welcome.me;
      this.#online = { total: welcome.online.total, users: new Map(welcome.online.users.map((user) => [user.id, user])) };
      this.#directory = new Map(welcome.rooms.map((room) => [room.name, room.members]));
      for (const apply of this.#greeting) apply();
      return welcome;
    } finally {
      this.#greeting = null;
    }
  }

  async call<K extends "join" | "leave" | "send">(event: K, data: Parameters<ClientEvents[K]>[0]): Promise<ReturnType<ClientEvents[K]>> {
    const untyped = this.client as unknown as { emitWithAck(event: string, data: unknown): Promise<unknown> };
    const room = checkRoom(data);
    if (event === "join" && room.ok) this.#early.set(room.value, []);
    try {
      const result = (await within(untyped.emitWithAck(event, data), event)) as ReturnType<ClientEvents[K]>;
      if (event === "join") {
        const joined = result as Joined;
        this.#members.set(joined.room, new Map(joined.members.map((user) => [user.id, user])));
        this.#versions.set(joined.room, joined.version);
        for (const delta of this.#early.get(joined.room) ?? []) this.#applyPresence(delta);
      }
      if (event === "leave" && room.ok) this.#members.delete(room.value);
      return result;
    } finally {
      if (event === "join" && room.ok) this.#early.delete(room.value);
    }
  }

  #applyPresence({ version, room, joined, left }: PresenceDelta): void {
    const members = this.#members.get(room);
    if (members === undefined || version <= this.#versions.get(room)!) return;
    this.#versions.set(room, version);
    for (const id of left) members.delete(id);
    for (const user of joined) members.set(user.id, user);
  }

  #applyOnline({ total, joined, left }: OnlineDelta): void {
    if (this.#online === undefined) return;
    this.#online.total = total;
    for (const id of left) this.#online.users.delete(id);
    for (const user of joined) this.#online.users.set(user.id, user);
  }

  /** Applies a delta of who is online or of the rooms now, or after the welcome if it is on its way. */
  #later(apply: () => void): void {
    if (this.#greeting !== null) this.#greeting.push(apply);
    else apply();
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

function names(users: User[]): string[] {
  return users.map((user) => user.name).sort((a, b) => a.localeCompare(b));
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

  it("gives a unique name from a counter per name: each suffix is tried once", () => {
    const presence = new Presence({ heartbeat: 60_000 });
    try {
      expect(presence.uniqueName("Ann")).toBe("Ann");
      presence.add({ id: "1", name: "Ann" });
      presence.add({ id: "3", name: "Ann 3" });
      expect(presence.uniqueName("ann")).toBe("ann 2");
      presence.add({ id: "2", name: "ann 2" });
      expect(presence.uniqueName("ANN")).toBe("ANN 4");
      presence.add({ id: "4", name: "ANN 4" });
      // A freed suffix below the counter is not reused; the base name is, once free.
      presence.remove("2");
      expect(presence.uniqueName("Ann")).toBe("Ann 5");
      presence.remove("1");
      expect(presence.uniqueName("\u0410nn")).toBe("\u0410nn");
      expect(presence.isNameTaken("ann 3")).toBe(true);
      expect(presence.isNameTaken("Ann 2")).toBe(false);
    } finally {
      void presence.close();
    }
  });
});

describe("chat: the server", () => {
  it("refuses bad names with a reason, calls before hello, and a second hello", async () => {
    const chat = await chatServer();
    const person = personOn(chat);
    for (const name of ["", "a\u0007b", "\u200B", "x".repeat(LIMITS.name + 1)]) expect(await person.refusal(person.client.emitWithAck("hello", { name }))).toBe("E_NAME");
    expect(await person.refusal(person.client.emitWithAck("hello", null as never))).toBe("E_NAME");
    expect(await person.refusal(person.call("join", "lobby"))).toBe("E_NOT_NAMED");
    expect(await person.refusal(person.call("send", { room: "lobby", text: "hi" }))).toBe("E_NOT_NAMED");
    // That was as many hellos as the rate allows at once (refused ones count): the next one waits.
    expect(await person.refusal(person.client.emitWithAck("hello", { name: "Ada" }))).toBe("E_RATE");
    const ada = personOn(chat);
    await ada.hello("  Ada   King ");
    expect(ada.me).toEqual({ id: expect.any(String), name: "Ada King" });
    expect(await ada.refusal(ada.client.emitWithAck("hello", { name: "Other" }))).toBe("E_ALREADY_NAMED");
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

  it("a join answer carries the presence version: the deltas sent before it are not above it, those after are", async () => {
    const chat = await chatServer();
    const ann = await named(chat, "Ann", ["lobby"]);
    const bob = await named(chat, "Bob", ["lobby"]);
    await until(() => ann.deltas.some((delta) => delta.joined.some((user) => user.name === "Bob")), "Bob's arrival");
    const seen = Math.max(...ann.deltas.map((delta) => delta.version));
    // Joining a room one is in answers with a snapshot: the deltas already read are not newer than it.
    const again = await ann.call("join", "lobby");
    expect(again.version).toBeGreaterThanOrEqual(seen);
    expect(names(again.members)).toEqual(["Ann", "Bob"]);
    await bob.call("leave", "lobby");
    await until(() => ann.deltas.some((delta) => delta.left.includes(bob.me!.id)), "Bob's departure");
    expect(ann.deltas.at(-1)!.version).toBeGreaterThan(again.version);
    expect(ann.members.get("lobby")).toEqual(["Ann"]);
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

    // The rate: a burst, then one more per interval (refused calls count too, so Bob, not Ann).
    const { burst } = LIMITS.rate.send;
    const bob = await named(chat, "Bob", ["lobby"]);
    const sends = Array.from({ length: burst + 1 }, (_, i) => bob.call("send", { room: "lobby", text: `message ${i}` }).then(() => "ok", (error: RemoteError) => error.code));
    expect(await Promise.all(sends)).toEqual([...Array<string>(burst).fill("ok"), "E_RATE"]);
    await until(() => bob.messages.length === burst, "the accepted messages");
    expect(bob.messages.at(-1)!.text).toBe(`message ${burst - 1}`);
  });

  it("limits the rooms one person can be in, and the history to the latest messages", async () => {
    // Joins as fast as the test goes: the rate is not what this test is about.
    const chat = await chatServer({ limits: { rate: { ...LIMITS.rate, join: { burst: 100, every: 1_000 } } } });
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

  it("processes send each other what changed, numbered; a missed change is noticed and full states are asked for", async () => {
    const inner = sharedBroker();
    const published: Array<{ t: string; users?: unknown[] }> = [];
    let dropNextDelta = false;
    // The shared broker, recording every presence record and losing one delta when told to.
    const broker: Broker = {
      connect(channel, deliver, onError) {
        const link = inner.connect(channel, deliver, onError);
        return {
          ...link,
          publish(publication) {
            const record = JSON.parse(publication.data as string) as { t: string; users?: unknown[] };
            if (dropNextDelta && record.t === "delta") {
              dropNextDelta = false;
              return;
            }
            published.push(record);
            link.publish(publication);
          },
        };
      },
    };
    const here = new Presence({ broker, heartbeat: 60_000 });
    const there = new Presence({ broker, heartbeat: 60_000 });
    try {
      for (let i = 0; i < 50; i++) there.add({ id: `u${i}`, name: `User ${i}` });
      await until(() => here.online().total === 50, "the 50 to be seen here");
      // One more person: what travels is that person, not the 51.
      published.length = 0;
      there.add({ id: "b", name: "Bob" });
      await until(() => here.online().total === 51, "Bob to be seen here");
      expect(published).toEqual([{ t: "delta", node: there.node, seq: expect.any(Number), users: [{ id: "b", name: "Bob", rooms: [] }], gone: [] }]);

      // A delta is lost: "here" misses Cleo, notices the gap at the next one and asks for full states.
      dropNextDelta = true;
      there.add({ id: "c", name: "Cleo" });
      await until(() => !dropNextDelta, "the delta to be lost");
      expect(here.isNameTaken("Cleo")).toBe(false);
      there.join("b", "garden");
      await until(() => here.isNameTaken("Cleo") && here.members("garden").length === 1, "here to catch up");
      expect(published.some((record) => record.t === "state" && (record as { ask?: boolean }).ask === true)).toBe(true);
      expect(here.online().total).toBe(52);
    } finally {
      await Promise.all([here.close(), there.close()]);
    }
  });

  it("a process that stops answering (crashed) is forgotten after the expiry", async () => {
    const broker = sharedBroker();
    const here = new Presence({ broker, heartbeat: 40 });
    const there = new Presence({ broker, heartbeat: 40 });
    try {
      there.add({ id: "b", name: "Bob" });
      there.join("b", "lobby");
      await until(() => here.members("lobby").length === 1, "Bob to be seen here");
      const changes: PresenceChange[] = [];
      here.onChange((change) => void changes.push(change));
      // Cut "there" off the broker without a goodbye, as a crash would.
      broker.cut(() => true);
      await until(() => here.online().total === 0, "Bob to expire", 2_000);
      expect(here.members("lobby")).toEqual([]);
      // Announced as deltas: Bob went offline and left the lobby, which is gone.
      await until(() => changes.length > 0, "the change to be announced");
      expect(changes).toEqual([{ version: expect.any(Number), online: { joined: [], left: ["b"] }, total: 0, rooms: new Map([["lobby", { joined: [], left: ["b"], members: 0 }]]) }]);
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
      await until(() => output.includes(`open ${base} in two tabs`), "the two-tabs hint");
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

  it("on a port in use, says so and how to pick another, and exits 1 without a stack", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as { port: number }).port;
    const child = spawn(process.execPath, ["--import", "tsx", "examples/chat/server.ts"], { env: { ...process.env, PORT: String(port) }, stdio: ["ignore", "pipe", "pipe"] });
    try {
      let stdout = "";
      let stderr = "";
      child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk));
      child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk));
      const [code] = (await within(once(child, "exit"), "the process to exit", 20_000)) as [number | null];
      expect(code).toBe(1);
      expect(stderr.trim()).toBe(`port ${port} is in use: PORT=${port + 1} npm start`);
      expect(stdout).not.toContain("listening");
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      await new Promise((resolve) => taken.close(resolve));
    }
  }, 30_000);
});
