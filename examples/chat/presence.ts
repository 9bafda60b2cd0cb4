/**
 * Who is online and in which rooms, across every process that serves the chat.
 *
 * Each process owns the people connected to it and publishes them on a broker channel: the people who
 * changed after each change (coalesced per tick, numbered), and its full state every `heartbeat` ms. Every
 * process keeps the latest state of every other one (a gap in the numbers makes it ask for full states)
 * and forgets a process that said goodbye or stayed silent for `expiry` ms (it crashed). So each process
 * can answer "who is online", "who is in #lobby" and "is this name taken" from memory, with the same answer
 * everywhere once the changes have travelled. Without a broker there is just this process, and nothing is
 * published.
 *
 * Indexes over everyone (name keys, the members of each room) answer "is this name taken", "who is in
 * #lobby" and "how many rooms" without walking everyone, and a unique name is found with a counter per
 * name, not by trying "Ann 2", "Ann 3"... against everyone. Changes are handed to listeners as deltas
 * (who joined, who left), coalesced per tick, so a change costs its own size to tell, not the room's.
 * @module
 */
import { randomUUID } from "node:crypto";
import type { Broker, BrokerChannel } from "wsmount";
import type { Online, RoomSummary, User } from "./shared/events.js";
import { nameKey, suffixed } from "./shared/validate.js";

/** Ms between two checks whether the broker is connected, while records wait for it. */
const RETRY_MS = 50;

/** Options of {@link Presence}. */
export interface PresenceOptions {
  /** Carries the states between processes. @defaultValue none: this process is the whole chat */
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

/** Who joined and who left (by id), each person once, as things stand at the end of the tick. */
export interface Delta {
  joined: User[];
  left: string[];
}

/** What changed, delivered once per tick at most. */
export interface PresenceChange {
  /** Counts the changes told: this one's number. */
  version: number;
  /** Who came online or went offline, or `null` when nobody did. */
  online: Delta | null;
  /** The people online now. */
  total: number;
  /** Rooms whose members changed: the delta and the number of members now (`0`: the room is gone). */
  rooms: ReadonlyMap<string, Delta & { members: number }>;
}

interface Entry {
  user: User;
  /** {@link nameKey} of the name. */
  key: string;
  rooms: Set<string>;
}

interface NodeState {
  seen: number;
  /** The number of the last record applied. */
  seq: number;
  /** A record was missed: changes wait for the next full state. */
  stale: boolean;
  entries: Map<string, Entry>;
}

/** One person on the wire. */
interface UserState {
  id: string;
  name: string;
  rooms: string[];
}

/** A state on the wire: one process's people. */
interface StateRecord {
  t: "state";
  node: string;
  /** Counts up with each record of this process. */
  seq: number;
  /** Asks the others to publish their states at once (a process that just started, or missed a record). */
  ask?: boolean;
  users: UserState[];
}

/** What changed on one process: the people who changed (as they are now), and those who are gone. */
interface DeltaRecord {
  t: "delta";
  node: string;
  /** The state's or the previous delta's `seq`, plus one. */
  seq: number;
  users: UserState[];
  gone: string[];
}

interface ByeRecord {
  t: "bye";
  node: string;
}

/** Pending changes of one kind: each id once, `null` for "left"; the last change of a tick wins. */
type Pending = Map<string, User | null>;

// One collator for every comparison: `localeCompare` with options builds one per call (about 25 times slower).
const NAMES = new Intl.Collator(undefined, { sensitivity: "base" });

/** Name counters kept (one per name asked for); the stalest is dropped past it, which costs a rescan. */
const MAX_COUNTERS = 10_000;

/** The presence of the whole chat, as this process knows it. */
export class Presence {
  /** This process's id on the channel. */
  readonly node = randomUUID();
  readonly #local = new Map<string, Entry>();
  readonly #remote = new Map<string, NodeState>();
  /** Everyone, local and remote, by id. */
  readonly #everyone = new Map<string, Entry>();
  /** How many people online have a name with this key. */
  readonly #names = new Map<string, number>();
  /** The members of each room with members, by id. */
  readonly #members = new Map<string, Map<string, User>>();
  /** Name key -> the next suffix worth trying for it. */
  readonly #counters = new Map<string, number>();
  readonly #channel: BrokerChannel | null;
  readonly #expiry: number;
  /** Local people changed since the last record published. */
  readonly #dirty = new Set<string>();
  #seq = 0;
  /** The next record is the full state (asked for, or not published yet). */
  #fullNext = true;
  readonly #listeners: Array<(change: PresenceChange) => void> = [];
  readonly #timer: NodeJS.Timeout;
  #pendingOnline: Pending = new Map();
  #pendingRooms = new Map<string, Pending>();
  #notifyScheduled = false;
  #publishScheduled = false;
  #asking = true;
  #closed = false;
  #version = 0;

  constructor(options: PresenceOptions = {}) {
    const heartbeat = options.heartbeat ?? 5_000;
    if (!Number.isInteger(heartbeat) || heartbeat <= 0) throw new TypeError(`option "heartbeat" must be a positive integer; got ${String(heartbeat)}`);
    this.#expiry = options.expiry ?? heartbeat * 3;
    const onError = options.onError ?? ((error: Error) => console.error(`chat presence: ${error.message}`));
    this.#channel =
      options.broker?.connect(
        options.channel ?? "chat/presence",
        (publication) => {
          if (typeof publication.data === "string") this.#receive(publication.data);
        },
        (error, stage) => onError(new Error(`broker ${stage} failed: ${error.message}`, { cause: error })),
      ) ?? null;
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
    if (this.#local.has(user.id)) return;
    const entry: Entry = { user: { id: user.id, name: user.name }, key: nameKey(user.name), rooms: new Set() };
    this.#local.set(user.id, entry);
    this.#index(entry);
    this.#dirty.add(user.id);
    this.#changed();
  }

  /** Someone connected here went offline (leaving their rooms). */
  remove(id: string): void {
    const entry = this.#local.get(id);
    if (entry === undefined) return;
    this.#local.delete(id);
    this.#unindex(entry);
    this.#dirty.add(id);
    this.#changed();
  }

  /** Someone connected here joined `room`. */
  join(id: string, room: string): void {
    const entry = this.#local.get(id);
    if (entry === undefined || entry.rooms.has(room)) return;
    entry.rooms.add(room);
    this.#enter(entry, room);
    this.#dirty.add(id);
    this.#changed();
  }

  /** Someone connected here left `room`. */
  leave(id: string, room: string): void {
    const entry = this.#local.get(id);
    if (entry === undefined || !entry.rooms.delete(room)) return;
    this.#exit(entry, room);
    this.#dirty.add(id);
    this.#changed();
  }

  /** Whether someone online has this name, or one that passes for it (see `nameKey`). */
  isNameTaken(name: string): boolean {
    return this.#names.has(nameKey(name));
  }

  /**
   * `name` if nobody online has it (or a look-alike), else `name` with the first free suffix from this
   * name's counter: "Ann 2", "Ann 3"... Each suffix is tried at most once per counter, so among 2,000
   * people called Ann a newcomer costs a lookup or two, not 2,000 comparisons.
   */
  uniqueName(name: string): string {
    const key = nameKey(name);
    if (!this.#names.has(key)) return name;
    let n = this.#counters.get(key) ?? 2;
    let candidate = suffixed(name, n);
    while (this.#names.has(nameKey(candidate))) candidate = suffixed(name, ++n);
    this.#counters.delete(key);
    this.#counters.set(key, n + 1);
    if (this.#counters.size > MAX_COUNTERS) this.#counters.delete(this.#counters.keys().next().value!);
    return candidate;
  }

  /** The people online, and up to `limit` of them (those online longest), sorted by name. */
  online(limit = Infinity): Online {
    const users: User[] = [];
    for (const entry of this.#everyone.values()) {
      if (users.length >= limit) break;
      users.push(entry.user);
    }
    return { total: this.#everyone.size, users: users.sort(byName) };
  }

  /** The people in `room`, sorted by name. */
  members(room: string): User[] {
    return [...(this.#members.get(room)?.values() ?? [])].sort(byName);
  }

  /** Rooms that have members, with their number, busiest first; at most `limit`. */
  rooms(limit = Infinity): RoomSummary[] {
    const all = [...this.#members].map(([name, members]) => ({ name, members: members.size }));
    all.sort((a, b) => b.members - a.members || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return all.length > limit ? all.slice(0, limit) : all;
  }

  /**
   * The number of the last change handed to listeners: what `members()` and the others answer now is that
   * change, plus those pending for the next one (which will carry a higher number).
   */
  get version(): number {
    return this.#version;
  }

  /** How many rooms have members. */
  get roomCount(): number {
    return this.#members.size;
  }

  /** Whether `room` has members anywhere. */
  hasRoom(room: string): boolean {
    return this.#members.has(room);
  }

  /** Says goodbye to the other processes and leaves the channel. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#publish({ t: "bye", node: this.node });
    await this.#channel?.close();
  }

  /** Adds a person, local or remote, to the indexes. */
  #index(entry: Entry): void {
    this.#everyone.set(entry.user.id, entry);
    this.#names.set(entry.key, (this.#names.get(entry.key) ?? 0) + 1);
    this.#pendingOnline.set(entry.user.id, entry.user);
    for (const room of entry.rooms) this.#enter(entry, room);
  }

  #unindex(entry: Entry): void {
    if (this.#everyone.get(entry.user.id) === entry) this.#everyone.delete(entry.user.id);
    const holders = (this.#names.get(entry.key) ?? 1) - 1;
    if (holders > 0) this.#names.set(entry.key, holders);
    else this.#names.delete(entry.key);
    this.#pendingOnline.set(entry.user.id, null);
    for (const room of entry.rooms) this.#exit(entry, room);
  }

  #enter(entry: Entry, room: string): void {
    let members = this.#members.get(room);
    if (members === undefined) this.#members.set(room, (members = new Map()));
    members.set(entry.user.id, entry.user);
    this.#pendingIn(room).set(entry.user.id, entry.user);
  }

  #exit(entry: Entry, room: string): void {
    const members = this.#members.get(room);
    if (members === undefined || !members.delete(entry.user.id)) return;
    if (members.size === 0) this.#members.delete(room);
    this.#pendingIn(room).set(entry.user.id, null);
  }

  #pendingIn(room: string): Pending {
    let pending = this.#pendingRooms.get(room);
    if (pending === undefined) this.#pendingRooms.set(room, (pending = new Map()));
    return pending;
  }

  #changed(): void {
    if (this.#dirty.size > 0) this.#publishSoon();
    if (this.#notifyScheduled) return;
    this.#notifyScheduled = true;
    setImmediate(() => this.#notify());
  }

  #notify(): void {
    this.#notifyScheduled = false;
    if (this.#closed) return;
    const online = this.#pendingOnline.size > 0 ? delta(this.#pendingOnline) : null;
    const rooms = new Map<string, Delta & { members: number }>();
    for (const [room, pending] of this.#pendingRooms) rooms.set(room, { ...delta(pending), members: this.#members.get(room)?.size ?? 0 });
    this.#pendingOnline = new Map();
    this.#pendingRooms = new Map();
    if (online === null && rooms.size === 0) return;
    const change: PresenceChange = { version: ++this.#version, online, total: this.#everyone.size, rooms };
    for (const listener of this.#listeners.slice()) {
      try {
        listener(change);
      } catch (error) {
        console.error("chat presence: a change listener failed", error);
      }
    }
  }

  #publishSoon(): void {
    if (this.#publishScheduled || this.#closed || this.#channel === null) return;
    this.#publishScheduled = true;
    setImmediate(() => this.#flush());
  }

  #flush(): void {
    this.#publishScheduled = false;
    if (this.#closed) return;
    if (!this.#reachable()) {
      // Not connected yet (the process just started: the broker's connections are still opening) or
      // in an outage: a record published now would be dropped, and reported as "Redis is unreachable".
      // Keep it for when the broker is there: the full state then, which covers the changes meanwhile.
      this.#fullNext = true;
      this.#publishScheduled = true;
      setTimeout(() => this.#flush(), RETRY_MS).unref();
      return;
    }
    if (this.#fullNext) this.#publishState();
    else if (this.#dirty.size > 0) this.#publishDelta();
  }

  /** The broker can carry records now (a broker without stats is taken as always connected). */
  #reachable(): boolean {
    return this.#channel?.stats?.().connected ?? true;
  }

  #publishState(): void {
    const users = [...this.#local.values()].map(userState);
    const record: StateRecord = { t: "state", node: this.node, seq: ++this.#seq, users };
    if (this.#asking) {
      record.ask = true;
      this.#asking = false;
    }
    this.#fullNext = false;
    this.#dirty.clear();
    this.#publish(record);
  }

  #publishDelta(): void {
    const users: UserState[] = [];
    const gone: string[] = [];
    for (const id of this.#dirty) {
      const entry = this.#local.get(id);
      if (entry === undefined) gone.push(id);
      else users.push(userState(entry));
    }
    this.#dirty.clear();
    this.#publish({ t: "delta", node: this.node, seq: ++this.#seq, users, gone });
  }

  #publish(record: StateRecord | DeltaRecord | ByeRecord): void {
    this.#channel?.publish({ to: [], except: [], data: JSON.stringify(record), binary: false });
  }

  #tick(): void {
    if (this.#channel !== null && this.#reachable()) this.#publishState();
    const deadline = Date.now() - this.#expiry;
    for (const [node, state] of this.#remote) if (state.seen < deadline) this.#forget(node);
  }

  #forget(node: string): void {
    const state = this.#remote.get(node);
    if (state === undefined) return;
    this.#remote.delete(node);
    for (const entry of state.entries.values()) this.#unindex(entry);
    if (state.entries.size > 0) this.#changed();
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
    let state = this.#remote.get(record.node);
    if (record.t === "delta" && (state === undefined || state.stale || record.seq !== state.seq + 1)) {
      // A record was missed (or this process just started): ask every process for its full state.
      if (state !== undefined) state.stale = true;
      this.#asking = true;
      this.#fullNext = true;
      this.#publishSoon();
      return;
    }
    if (state === undefined) this.#remote.set(record.node, (state = { seen: 0, seq: 0, stale: false, entries: new Map() }));
    state.seen = Date.now();
    state.seq = record.seq;
    let changed = false;
    for (const user of record.users) changed = this.#upsert(state.entries, user) || changed;
    let gone: Iterable<string>;
    if (record.t === "delta") gone = record.gone;
    else {
      const present = new Set(record.users.map((user) => user.id));
      gone = [...state.entries.keys()].filter((id) => !present.has(id));
    }
    for (const id of gone) {
      const entry = state.entries.get(id);
      if (entry === undefined) continue;
      state.entries.delete(id);
      this.#unindex(entry);
      changed = true;
    }
    if (record.t === "state") {
      state.stale = false;
      if (record.ask === true) {
        this.#fullNext = true;
        this.#publishSoon();
      }
    }
    if (changed) this.#changed();
  }

  /** Brings one remote person up to date; whether anything changed. */
  #upsert(entries: Map<string, Entry>, { id, name, rooms }: UserState): boolean {
    const old = entries.get(id);
    if (old !== undefined && old.user.name === name) {
      // The same person: only their rooms may have changed.
      let changed = false;
      const now = new Set(rooms);
      for (const room of now) {
        if (old.rooms.has(room)) continue;
        old.rooms.add(room);
        this.#enter(old, room);
        changed = true;
      }
      for (const room of old.rooms) {
        if (now.has(room)) continue;
        old.rooms.delete(room);
        this.#exit(old, room);
        changed = true;
      }
      return changed;
    }
    if (old !== undefined) this.#unindex(old);
    const entry: Entry = { user: { id, name }, key: nameKey(name), rooms: new Set(rooms) };
    this.#index(entry);
    entries.set(id, entry);
    return true;
  }
}

function userState({ user, rooms }: Entry): UserState {
  return { id: user.id, name: user.name, rooms: [...rooms] };
}

function delta(pending: Pending): Delta {
  const joined: User[] = [];
  const left: string[] = [];
  for (const [id, user] of pending) {
    if (user === null) left.push(id);
    else joined.push(user);
  }
  return { joined, left };
}

function byName(a: User, b: User): number {
  return NAMES.compare(a.name, b.name) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function isRecord(value: unknown): value is StateRecord | DeltaRecord | ByeRecord {
  if (typeof value !== "object" || value === null) return false;
  const record = value as Record<string, unknown>;
  if (typeof record.node !== "string") return false;
  if (record.t === "bye") return true;
  if (!Number.isSafeInteger(record.seq) || !Array.isArray(record.users) || !record.users.every(isUserState)) return false;
  if (record.t === "state") return true;
  return record.t === "delta" && Array.isArray(record.gone) && record.gone.every((id) => typeof id === "string");
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
