/**
 * Who is online and in which rooms, across every process that serves the chat.
 *
 * Each process owns the people connected to it and publishes their full state on a broker channel, after
 * each change (coalesced per tick) and every `heartbeat` ms. Every process keeps the latest state of every
 * other one and forgets a process that said goodbye or stayed silent for `expiry` ms (it crashed). So each
 * process can answer "who is online", "who is in #lobby" and "is this name taken" from memory, with the
 * same answer everywhere once the states have travelled. With the default in-process broker there is just
 * this process.
 * @module
 */
import { randomUUID } from "node:crypto";
import { memoryBroker, type Broker, type BrokerChannel } from "wsmount";
import type { Online, RoomSummary, User } from "./shared/events.js";

/** Options of {@link Presence}. */
export interface PresenceOptions {
  /** Carries the states between processes. @defaultValue in-process (`memoryBroker()`) */
  broker?: Broker;
  /** The broker channel. @defaultValue "chat/presence" */
  channel?: string;
  /** Ms between two states published without a change. @defaultValue 5000 */
  heartbeat?: number;
  /** Ms of silence after which another process is forgotten. @defaultValue 3 × heartbeat */
  expiry?: number;
  /** Where broker faults go. @defaultValue console.error */
  onError?: (error: Error) => void;
}

/** What changed, delivered once per tick at most. */
export interface PresenceChange {
  /** Someone came online, went offline or changed name. */
  users: boolean;
  /** Rooms whose members changed. */
  rooms: ReadonlySet<string>;
}

interface Entry {
  user: User;
  rooms: Set<string>;
}

interface NodeState {
  seen: number;
  entries: Map<string, Entry>;
}

/** A state on the wire: one process's people. */
interface StateRecord {
  t: "state";
  node: string;
  /** Asks the others to publish their states at once (a process that just started). */
  ask?: boolean;
  users: Array<{ id: string; name: string; rooms: string[] }>;
}

interface ByeRecord {
  t: "bye";
  node: string;
}

/** The presence of the whole chat, as this process knows it. */
export class Presence {
  /** This process's id on the channel. */
  readonly node = randomUUID();
  readonly #local = new Map<string, Entry>();
  readonly #remote = new Map<string, NodeState>();
  readonly #channel: BrokerChannel;
  readonly #expiry: number;
  readonly #listeners: Array<(change: PresenceChange) => void> = [];
  readonly #timer: NodeJS.Timeout;
  #pendingUsers = false;
  #pendingRooms = new Set<string>();
  #notifyScheduled = false;
  #publishScheduled = false;
  #asking = true;
  #closed = false;

  constructor(options: PresenceOptions = {}) {
    const heartbeat = options.heartbeat ?? 5_000;
    if (!Number.isInteger(heartbeat) || heartbeat <= 0) throw new TypeError(`option "heartbeat" must be a positive integer; got ${String(heartbeat)}`);
    this.#expiry = options.expiry ?? heartbeat * 3;
    const onError = options.onError ?? ((error: Error) => console.error(`chat presence: ${error.message}`));
    this.#channel = (options.broker ?? memoryBroker()).connect(
      options.channel ?? "chat/presence",
      (publication) => {
        if (typeof publication.data === "string") this.#receive(publication.data);
      },
      (error, stage) => onError(new Error(`broker ${stage} failed: ${error.message}`, { cause: error })),
    );
    this.#timer = setInterval(() => this.#tick(), heartbeat);
    this.#timer.unref();
    this.#publishSoon();
  }

  /** Calls `listener` after changes (coalesced: at most once per tick). Returns a remover. */
  onChange(listener: (change: PresenceChange) => void): () => void {
    this.#listeners.push(listener);
    return () => {
      const index = this.#listeners.indexOf(listener);
      if (index !== -1) this.#listeners.splice(index, 1);
    };
  }

  /** Someone connected here is now online. */
  add(user: User): void {
    this.#local.set(user.id, { user: { ...user }, rooms: new Set() });
    this.#changed(true, []);
  }

  /** Someone connected here went offline (leaving their rooms). */
  remove(id: string): void {
    const entry = this.#local.get(id);
    if (entry === undefined) return;
    this.#local.delete(id);
    this.#changed(true, entry.rooms);
  }

  /** Someone connected here joined `room`. */
  join(id: string, room: string): void {
    const entry = this.#local.get(id);
    if (entry === undefined || entry.rooms.has(room)) return;
    entry.rooms.add(room);
    this.#changed(false, [room]);
  }

  /** Someone connected here left `room`. */
  leave(id: string, room: string): void {
    const entry = this.#local.get(id);
    if (entry === undefined || !entry.rooms.delete(room)) return;
    this.#changed(false, [room]);
  }

  /** Whether someone online has this name (ignoring case). */
  isNameTaken(name: string): boolean {
    const wanted = name.toLowerCase();
    for (const entry of this.#entries()) if (entry.user.name.toLowerCase() === wanted) return true;
    return false;
  }

  /** Everyone online, sorted by name, at most `limit` listed. */
  online(limit = Infinity): Online {
    const users: User[] = [];
    let total = 0;
    for (const entry of this.#entries()) {
      total++;
      users.push(entry.user);
    }
    users.sort(byName);
    return { total, users: users.length > limit ? users.slice(0, limit) : users };
  }

  /** The people in `room`, sorted by name. */
  members(room: string): User[] {
    const users: User[] = [];
    for (const entry of this.#entries()) if (entry.rooms.has(room)) users.push(entry.user);
    return users.sort(byName);
  }

  /** Every room that has members, with their number, busiest first. */
  rooms(): RoomSummary[] {
    const counts = new Map<string, number>();
    for (const entry of this.#entries()) for (const room of entry.rooms) counts.set(room, (counts.get(room) ?? 0) + 1);
    return [...counts].map(([name, members]) => ({ name, members })).sort((a, b) => b.members - a.members || a.name.localeCompare(b.name));
  }

  /** Whether `room` has members anywhere. */
  hasRoom(room: string): boolean {
    for (const entry of this.#entries()) if (entry.rooms.has(room)) return true;
    return false;
  }

  /** Says goodbye to the other processes and leaves the channel. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#publish({ t: "bye", node: this.node });
    await this.#channel.close();
  }

  *#entries(): Generator<Entry> {
    yield* this.#local.values();
    for (const state of this.#remote.values()) yield* state.entries.values();
  }

  #changed(users: boolean, rooms: Iterable<string>): void {
    if (users) this.#pendingUsers = true;
    for (const room of rooms) this.#pendingRooms.add(room);
    this.#publishSoon();
    if (this.#notifyScheduled) return;
    this.#notifyScheduled = true;
    setImmediate(() => this.#notify());
  }

  #notify(): void {
    this.#notifyScheduled = false;
    if (this.#closed) return;
    const change: PresenceChange = { users: this.#pendingUsers, rooms: this.#pendingRooms };
    this.#pendingUsers = false;
    this.#pendingRooms = new Set();
    if (!change.users && change.rooms.size === 0) return;
    for (const listener of this.#listeners.slice()) {
      try {
        listener(change);
      } catch (error) {
        console.error("chat presence: a change listener failed", error);
      }
    }
  }

  #publishSoon(): void {
    if (this.#publishScheduled || this.#closed) return;
    this.#publishScheduled = true;
    setImmediate(() => {
      this.#publishScheduled = false;
      if (!this.#closed) this.#publishState();
    });
  }

  #publishState(): void {
    const users = [...this.#local.values()].map(({ user, rooms }) => ({ id: user.id, name: user.name, rooms: [...rooms] }));
    const record: StateRecord = { t: "state", node: this.node, users };
    if (this.#asking) {
      record.ask = true;
      this.#asking = false;
    }
    this.#publish(record);
  }

  #publish(record: StateRecord | ByeRecord): void {
    this.#channel.publish({ to: [], except: [], data: JSON.stringify(record), binary: false });
  }

  #tick(): void {
    this.#publishState();
    const deadline = Date.now() - this.#expiry;
    for (const [node, state] of this.#remote) if (state.seen < deadline) this.#forget(node);
  }

  #forget(node: string): void {
    const state = this.#remote.get(node);
    if (state === undefined) return;
    this.#remote.delete(node);
    const rooms = new Set<string>();
    for (const entry of state.entries.values()) for (const room of entry.rooms) rooms.add(room);
    this.#changed(state.entries.size > 0, rooms);
  }

  #receive(data: string): void {
    let record: unknown;
    try {
      record = JSON.parse(data);
    } catch {
      return;
    }
    if (!isRecord(record) || record.node === this.node) return;
    if (record.t === "bye") {
      this.#forget(record.node);
      return;
    }
    const entries = new Map<string, Entry>();
    for (const { id, name, rooms } of record.users) entries.set(id, { user: { id, name }, rooms: new Set(rooms) });
    const before = this.#remote.get(record.node)?.entries ?? new Map<string, Entry>();
    this.#remote.set(record.node, { seen: Date.now(), entries });
    if (record.ask === true) this.#publishSoon();
    const [users, rooms] = difference(before, entries);
    if (users || rooms.size > 0) this.#changed(users, rooms);
  }
}

function byName(a: User, b: User): number {
  return a.name.localeCompare(b.name, undefined, { sensitivity: "base" }) || a.id.localeCompare(b.id);
}

/** Whether the people changed, and which rooms' members changed, between two states of one process. */
function difference(before: Map<string, Entry>, after: Map<string, Entry>): [boolean, Set<string>] {
  let users = before.size !== after.size;
  const rooms = new Set<string>();
  for (const [id, entry] of after) {
    const old = before.get(id);
    if (old === undefined || old.user.name !== entry.user.name) users = true;
    for (const room of entry.rooms) if (old === undefined || !old.rooms.has(room)) rooms.add(room);
    if (old !== undefined) for (const room of old.rooms) if (!entry.rooms.has(room)) rooms.add(room);
  }
  for (const [id, old] of before) {
    if (after.has(id)) continue;
    users = true;
    for (const room of old.rooms) rooms.add(room);
  }
  return [users, rooms];
}

function isRecord(value: unknown): value is StateRecord | ByeRecord {
  if (typeof value !== "object" || value === null) return false;
  const record = value as Record<string, unknown>;
  if (typeof record.node !== "string") return false;
  if (record.t === "bye") return true;
  return record.t === "state" && Array.isArray(record.users) && record.users.every(isUserState);
}

function isUserState(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  const user = value as Record<string, unknown>;
  return (
    typeof user.id === "string" &&
    typeof user.name === "string" &&
    Array.isArray(user.rooms) &&
    user.rooms.every((room) => typeof room === "string")
  );
}
