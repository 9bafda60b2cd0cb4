/**
 * The broker's two Redis connections, shared by every endpoint that uses the broker: one publishes
 * and queries, one subscribes (SUBSCRIBE takes over the connection it runs on). Both reconnect by
 * themselves; the subscriber resubscribes to every channel; an outage is reported once.
 * @module
 */
import { Redis, type RedisOptions } from "ioredis";
import type { ResolvedRedisOptions } from "./options.js";

/** What a user of the connections (an endpoint's channel) is told. */
export interface ConnectionsMember {
  /** The command connection is ready, for the first time or again: rewrite this process's state. */
  commandReady(): void;
  /** Redis became unreachable (or could not be reached at start); reported once per outage. */
  outage(error: Error): void;
  /** Both connections are back after a reported outage, and the subscriptions are in place again. */
  recovered(): void;
  /** The command connection was lost: whatever this process wrote may be gone with Redis. */
  commandLost(): void;
  /** The subscriber connection was lost: whatever was published meanwhile never arrives here. */
  subscriberLost(): void;
}

/** A handler of the messages of one Redis channel. */
export type MessageHandler = (message: Buffer) => void;

// Our own connections, whatever the settings they were copied from: a command fails at once when
// Redis is unreachable (the broker drops or reports, never queues for later), and is never re-sent
// after a reconnect (a stale presence write must not land after the rewrite that follows it).
const COMMAND: RedisOptions = {
  lazyConnect: false,
  enableOfflineQueue: false,
  autoResendUnfulfilledCommands: false,
  maxRetriesPerRequest: 0,
  keyPrefix: "",
  // The commands of one tick (a burst of publications) leave in one write.
  enableAutoPipelining: true,
};
// The subscriber queues its SUBSCRIBEs until Redis is there, however long that takes.
const SUBSCRIBER: RedisOptions = {
  lazyConnect: false,
  enableOfflineQueue: true,
  autoResubscribe: true,
  maxRetriesPerRequest: null,
  keyPrefix: "",
};

/** The pair of connections. */
export class RedisConnections {
  readonly command: Redis;
  readonly subscriber: Redis;
  readonly #members = new Set<ConnectionsMember>();
  readonly #handlers = new Map<string, Set<MessageHandler>>();
  #connected = false;
  #everConnected = false;
  #outageReported = false;
  #reconnects = 0;
  #closed = false;
  readonly #quitTimeout: number;

  constructor(options: ResolvedRedisOptions) {
    this.#quitTimeout = options.requestTimeout;
    const name = `wsmount:${options.prefix}`;
    this.command = open(options, { ...COMMAND, commandTimeout: options.requestTimeout, connectionName: name });
    this.subscriber = open(options, { ...SUBSCRIBER, connectionName: name });
    for (const [redis, role] of [[this.command, "command"], [this.subscriber, "subscriber"]] as const) {
      redis.on("error", (error: Error) => this.#failed(error, role));
      redis.on("close", () => this.#closedConnection(role));
      redis.on("ready", () => this.#ready(role));
    }
    this.subscriber.on("messageBuffer", (channel: Buffer, message: Buffer) => this.#message(channel.toString(), message));
  }

  /** Commands can be sent now. */
  get commandReady(): boolean {
    return this.command.status === "ready";
  }

  /** Both connections are up: publications leave this process and reach it. */
  get connected(): boolean {
    return this.#connected;
  }

  /** Times both connections were back up after an outage. */
  get reconnects(): number {
    return this.#reconnects;
  }

  /** Adds a member; it hears about readiness and outages. */
  add(member: ConnectionsMember): void {
    this.#members.add(member);
    if (this.commandReady) setImmediate(() => this.#members.has(member) && member.commandReady());
  }

  /** Removes a member; returns true when none is left. */
  remove(member: ConnectionsMember): boolean {
    this.#members.delete(member);
    return this.#members.size === 0;
  }

  /** Calls `handler` with every message of Redis channel `name`. */
  subscribe(name: string, handler: MessageHandler, onError: (error: Error) => void): void {
    let handlers = this.#handlers.get(name);
    if (handlers === undefined) {
      handlers = new Set();
      this.#handlers.set(name, handlers);
      this.subscriber.subscribe(name).catch(onError);
    }
    handlers.add(handler);
  }

  /** Stops calling `handler` for channel `name`. */
  unsubscribe(name: string, handler: MessageHandler): void {
    const handlers = this.#handlers.get(name);
    if (handlers === undefined || !handlers.delete(handler) || handlers.size > 0) return;
    this.#handlers.delete(name);
    if (this.subscriber.status === "ready") this.subscriber.unsubscribe(name).catch(() => {});
  }

  /** Closes both connections: politely when Redis is there, at once otherwise. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([quit(this.command, this.#quitTimeout), quit(this.subscriber, this.#quitTimeout)]);
  }

  #ready(role: "command" | "subscriber"): void {
    if (this.command.status === "ready" && this.subscriber.status === "ready" && !this.#connected) {
      this.#connected = true;
      const recovering = this.#outageReported;
      this.#outageReported = false;
      if (this.#everConnected) this.#reconnects++;
      this.#everConnected = true;
      if (recovering) this.#confirmRecovery();
    }
    if (role === "command") for (const member of [...this.#members]) member.commandReady();
  }

  /**
   * Tells the members that the outage is over once the subscriptions are back: ioredis re-sends the
   * SUBSCRIBEs as the subscriber becomes ready, and Redis answers in order, so the answer to a PING sent
   * now comes after theirs.
   */
  #confirmRecovery(): void {
    this.subscriber.ping().then(
      () => {
        if (this.#closed || !this.#connected) return;
        for (const member of [...this.#members]) member.recovered();
      },
      // Lost again before the answer: the next outage is reported, and the next recovery confirmed.
      () => {},
    );
  }

  #closedConnection(role: "command" | "subscriber"): void {
    if (this.#closed) return;
    const wasConnected = this.#connected;
    this.#connected = false;
    for (const member of [...this.#members]) {
      if (role === "subscriber") member.subscriberLost();
      else member.commandLost();
    }
    if (wasConnected) this.#report(new Error(`the ${role} connection to Redis was lost; reconnecting`));
  }

  #failed(error: Error, role: "command" | "subscriber"): void {
    if (this.#closed) return;
    this.#report(new Error(`Redis ${role} connection: ${error.message}`, { cause: error }));
  }

  #report(error: Error): void {
    if (this.#outageReported) return;
    this.#outageReported = true;
    for (const member of [...this.#members]) member.outage(error);
  }

  #message(channel: string, message: Buffer): void {
    const handlers = this.#handlers.get(channel);
    if (handlers === undefined) return;
    for (const handler of handlers) handler(message);
  }
}

function open(options: ResolvedRedisOptions, overrides: RedisOptions): Redis {
  if (options.client !== undefined) return options.client.duplicate({ ...options.redis, ...overrides });
  const settings = { ...options.redis, ...overrides };
  return options.url === undefined ? new Redis(settings) : new Redis(options.url, settings);
}

/**
 * Says goodbye, waiting up to `ms` for Redis to confirm. A connection that has just died can still be
 * "ready" for a moment: its QUIT then waits in the offline queue, which the subscriber never gives up on.
 */
async function quit(redis: Redis, ms: number): Promise<void> {
  if (redis.status === "ready") {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error("QUIT was not answered in time")), ms);
    });
    try {
      await Promise.race([redis.quit(), late]);
      return;
    } catch {
      // Fall through: drop the connection.
    } finally {
      clearTimeout(timer);
    }
  }
  redis.disconnect();
}
