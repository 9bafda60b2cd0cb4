/**
 * This process's presence in Redis, for cluster-wide queries: which connections it holds and how many
 * members each of its rooms has, in two hashes that expire unless its heartbeat refreshes them, so a
 * process that dies leaves queries within `nodeTimeout`.
 *
 * Keys, for endpoint base `B` (`prefix:name`) and process id `N`:
 * - `B:nodes`          set of the process ids (pruned by queries when their `alive` key is gone)
 * - `B:node:N:alive`   "1", expires after `nodeTimeout` unless refreshed
 * - `B:node:N:conns`   hash: connection id -> "1"
 * - `B:node:N:rooms`   hash: room -> members here
 *
 * Writes are absolute (the current size, not +1/-1), so they can be coalesced and repeated: changes
 * made in one task go out as one pipeline, and after any doubt (a lost connection, a failed write,
 * keys found expired) the process rewrites its whole state.
 * @module
 */
import type { Redis } from "ioredis";
import type { BrokerHost } from "../../core/index.js";

/** Key names of one process of one endpoint. */
export interface NodeKeys {
  readonly nodes: string;
  readonly alive: string;
  readonly conns: string;
  readonly rooms: string;
}

// Fields per HSET when the whole state is rewritten: bounded command sizes however many connections.
const CHUNK = 1000;

const Unsynced = 0;
const Syncing = 1;
const Synced = 2;

/** Keeps Redis in step with this process's connections and rooms. */
export class Presence {
  readonly #redis: Redis;
  readonly #host: BrokerHost;
  readonly #node: string;
  readonly #keys: NodeKeys;
  readonly #ttl: number;
  readonly #report: (error: Error) => void;
  #connections = new Set<string>();
  #rooms = new Set<string>();
  #scheduled = false;
  #state = Unsynced;
  #stopped = false;
  /** Callers of {@link written} waiting for the state to be written. */
  #waiting: Array<() => void> = [];

  constructor(redis: Redis, host: BrokerHost, node: string, keys: NodeKeys, ttl: number, report: (error: Error) => void) {
    this.#redis = redis;
    this.#host = host;
    this.#node = node;
    this.#keys = keys;
    this.#ttl = ttl;
    this.#report = report;
  }

  /** A connection opened or closed, or a room's size here changed. */
  changed(kind: "connection" | "room", name: string): void {
    if (this.#stopped || this.#state === Unsynced) return;
    (kind === "connection" ? this.#connections : this.#rooms).add(name);
    if (this.#scheduled) return;
    this.#scheduled = true;
    // At the end of this task: what one handler changes goes out as one pipeline, at once.
    queueMicrotask(() => {
      this.#scheduled = false;
      this.#write();
    });
  }

  /** Redis may have lost this process's state, or never had it: the next chance rewrites it all. */
  lost(): void {
    this.#state = Unsynced;
    this.#clearPending();
  }

  /** Rewrites this process's whole state (after connecting, reconnecting, or finding it gone). */
  resync(): void {
    if (this.#stopped || this.#state === Syncing || this.#redis.status !== "ready") return;
    this.#state = Syncing;
    this.#clearPending();
    const { alive, conns, rooms, nodes } = this.#keys;
    const multi = this.#redis.multi().del(conns, rooms);
    for (const chunk of chunks(this.#host.connectionIds(), (id) => [id, "1"])) multi.hset(conns, ...chunk);
    for (const chunk of chunks(this.#host.roomNames(), (room) => [room, String(this.#host.roomSize(room))])) multi.hset(rooms, ...chunk);
    multi.pexpire(conns, this.#ttl).pexpire(rooms, this.#ttl).set(alive, "1", "PX", this.#ttl).sadd(nodes, this.#node);
    multi
      .exec()
      .then((results) => {
        const failed = results?.find(([error]) => error !== null)?.[0];
        if (failed) throw failed;
        if (this.#state === Syncing) {
          this.#state = Synced;
          for (const resolve of this.#waiting.splice(0)) resolve();
        }
      })
      .catch((error: unknown) => this.#failed(error));
  }

  /**
   * Refreshes the expiry of this process's keys. Finding `alive` gone (this process stalled for longer
   * than `nodeTimeout`, or Redis lost its data without dropping the connection) rewrites the state.
   */
  heartbeat(): void {
    if (this.#stopped || this.#redis.status !== "ready") return;
    if (this.#state === Unsynced) {
      this.resync();
      return;
    }
    if (this.#state === Syncing) return;
    const { alive, conns, rooms, nodes } = this.#keys;
    this.#redis
      .multi()
      .set(alive, "1", "PX", this.#ttl, "GET")
      .pexpire(conns, this.#ttl)
      .pexpire(rooms, this.#ttl)
      .sadd(nodes, this.#node)
      .exec()
      .then((results) => {
        const [error, previous] = results?.[0] ?? [new Error("no reply")];
        if (error) throw error;
        if (previous === null && this.#state === Synced) {
          this.#state = Unsynced;
          this.resync();
        }
      })
      .catch((error: unknown) => this.#failed(error));
  }

  /**
   * Resolves once this process's state is in Redis (at once when it is), or after `ms` at the latest:
   * other processes answer requests only from a process they find there.
   */
  written(ms: number): Promise<void> {
    if (this.#state === Synced || this.#stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        const index = this.#waiting.indexOf(done);
        if (index !== -1) this.#waiting.splice(index, 1);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#waiting.push(done);
    });
  }

  /** Removes this process's state (the endpoint is closing). */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const resolve of this.#waiting.splice(0)) resolve();
    this.#clearPending();
    if (this.#redis.status !== "ready") return;
    const { alive, conns, rooms, nodes } = this.#keys;
    try {
      await this.#redis.multi().del(alive, conns, rooms).srem(nodes, this.#node).exec();
    } catch {
      // Unreachable now: the keys expire by themselves within nodeTimeout.
    }
  }

  #write(): void {
    const connections = this.#connections;
    const rooms = this.#rooms;
    this.#connections = new Set();
    this.#rooms = new Set();
    if (this.#stopped || this.#state === Unsynced || (connections.size === 0 && rooms.size === 0)) return;
    if (this.#redis.status !== "ready") {
      this.#state = Unsynced;
      return;
    }
    const keys = this.#keys;
    const pipeline = this.#redis.pipeline();
    for (const id of connections) {
      if (this.#host.hasConnection(id)) pipeline.hset(keys.conns, id, "1");
      else pipeline.hdel(keys.conns, id);
    }
    for (const room of rooms) {
      const size = this.#host.roomSize(room);
      if (size > 0) pipeline.hset(keys.rooms, room, String(size));
      else pipeline.hdel(keys.rooms, room);
    }
    // A hash created by this write gets its expiry here; the heartbeat keeps it afterwards.
    if (connections.size > 0) pipeline.pexpire(keys.conns, this.#ttl);
    if (rooms.size > 0) pipeline.pexpire(keys.rooms, this.#ttl);
    pipeline
      .exec()
      .then((results) => {
        const failed = results?.find(([error]) => error !== null)?.[0];
        if (failed) throw failed;
      })
      .catch((error: unknown) => this.#failed(error));
  }

  #failed(error: unknown): void {
    this.#state = Unsynced;
    if (this.#stopped) return;
    // Failures while Redis is unreachable are the outage, already reported; the rewrite follows.
    if (this.#redis.status === "ready") this.#report(error instanceof Error ? error : new Error(String(error)));
  }

  #clearPending(): void {
    this.#connections = new Set();
    this.#rooms = new Set();
  }
}

/** Groups `items` into argument lists of at most CHUNK field/value pairs. */
function* chunks<T>(items: Iterable<T>, pair: (item: T) => [string, string]): Generator<string[]> {
  let chunk: string[] = [];
  for (const item of items) {
    chunk.push(...pair(item));
    if (chunk.length >= CHUNK * 2) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length > 0) yield chunk;
}
