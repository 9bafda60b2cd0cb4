/**
 * Options of the Redis broker: defaults and validation, once, into a frozen object.
 * @module
 */
import type { Redis, RedisOptions } from "ioredis";
import { InvalidOptionError } from "../../core/index.js";
import { MIN_SECRET_BYTES } from "./signing.js";

/** A shared secret: a string (its UTF-8 bytes) or bytes, at least 32 bytes. */
export type RedisBrokerSecret = string | Uint8Array;

/** Options of {@link redisBroker}. */
export interface RedisBrokerOptions {
  /**
   * Prefix of every Redis channel and key the broker uses (required). Processes share rooms and
   * broadcasts when they share the prefix and the endpoint's `name`; give each application its own,
   * so that two applications on one Redis never bridge by accident.
   */
  prefix: string;
  /**
   * The secret every process of the application shares (required): every message the broker writes to
   * Redis is signed with it (HMAC-SHA256), and a message that is not signed with it is dropped, counted
   * in `stats().rejected` and reported, never delivered. At least 32 bytes; a random one, e.g.
   * `openssl rand -base64 32`, kept out of the code (an environment variable, a secret store).
   *
   * With two, a process signs with the first and accepts both. To rotate without a pause, restart every
   * process with `[current, next]`, then with `[next, current]`, then with `next` alone (see
   * docs/scaling.md, "Rotating the secret").
   *
   * `false` turns signing off: the broker then trusts whoever can publish on Redis with this prefix
   * (see docs/scaling.md, "Who can do what"). Signing is integrity, not confidentiality: use TLS
   * (`rediss://`) and Redis ACLs to keep others from reading the messages.
   */
  secret: RedisBrokerSecret | readonly [RedisBrokerSecret] | readonly [RedisBrokerSecret, RedisBrokerSecret] | false;
  /**
   * An ioredis client to take the connection settings from (host, TLS, password, Sentinel...). The
   * broker opens its own two connections with `client.duplicate()`, one to publish and query, one to
   * subscribe; it never sends a command on this client and never closes it. @defaultValue none
   */
  client?: Redis;
  /** The Redis URL, when no `client` is given. @defaultValue "redis://127.0.0.1:6379" */
  url?: string;
  /** More ioredis options for the broker's connections, e.g. `retryStrategy`. @defaultValue none */
  redis?: RedisOptions;
  /** Milliseconds between two heartbeats of a process. @defaultValue 5000 */
  heartbeatInterval?: number;
  /**
   * Milliseconds after its last heartbeat when a process that stopped (crashed, killed, cut off from
   * Redis) no longer counts: its connections leave cluster-wide queries within this time. Must be
   * more than `heartbeatInterval`. @defaultValue 15000
   */
  nodeTimeout?: number;
  /**
   * Milliseconds to wait for another process's answer (a session, or a Redis reply); acknowledged
   * emits wait their own timeout plus this. @defaultValue 5000
   */
  requestTimeout?: number;
  /**
   * Requests of other processes (sessions, acknowledged emits waiting for their client's answer) this
   * process works on at once; past it, a request is answered at once with an `ERR_WSMOUNT_BROKER` error
   * saying so. Bounds the memory that other processes can make this one hold. @defaultValue 1000
   */
  maxRemoteRequests?: number;
  /**
   * The longest, in ms, that an acknowledged emit asked by another process waits for the client's
   * answer: a timeout of 0 ("until the connection closes") or a longer one is cut to this. The asking
   * process then gets an `AckError` (`ERR_WSMOUNT_ACK_TIMEOUT`). @defaultValue 60000
   */
  maxAckTimeout?: number;
  /**
   * How old, in ms by its sender's clock, a signed message may be when it arrives (and how far in the
   * future, for clocks that run apart); older ones are dropped as replays. Messages of a process are also
   * refused when they do not come in its order. The machines' clocks must agree to well within this.
   * @defaultValue 60000
   */
  replayWindow?: number;
}

/** Options after defaults and validation. */
export interface ResolvedRedisOptions {
  readonly prefix: string;
  readonly client: Redis | undefined;
  readonly url: string | undefined;
  readonly redis: RedisOptions;
  readonly heartbeatInterval: number;
  readonly nodeTimeout: number;
  readonly requestTimeout: number;
  /** The secrets as bytes, the signing one first; empty: signing is off. */
  readonly secrets: readonly Buffer[];
  readonly maxRemoteRequests: number;
  readonly maxAckTimeout: number;
  readonly replayWindow: number;
}

const KNOWN = ["prefix", "secret", "client", "url", "redis", "heartbeatInterval", "nodeTimeout", "requestTimeout", "maxRemoteRequests", "maxAckTimeout", "replayWindow"];

/** Validates `options` and fills in defaults; throws a `TypeError` naming the first bad option. */
export function resolveRedisOptions(options: RedisBrokerOptions): ResolvedRedisOptions {
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new InvalidOptionError("options", "an object with at least a prefix and a secret, e.g. { prefix: \"myapp\", secret: process.env.WSMOUNT_SECRET }", options);
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN.includes(key)) throw new InvalidOptionError(key, `one of the known options (${KNOWN.join(", ")})`, "an unknown option");
  }
  const { prefix, client, url, redis } = options;
  if (typeof prefix !== "string" || prefix.length === 0 || prefix.length > 200 || /\s/.test(prefix)) {
    throw new InvalidOptionError(
      "prefix",
      "a non-empty string without spaces, at most 200 characters, naming your application (two applications sharing a Redis must not share it)",
      prefix,
    );
  }
  if (client !== undefined && (client === null || typeof client !== "object" || typeof (client as Redis).duplicate !== "function")) {
    throw new InvalidOptionError("client", "an ioredis client (new Redis(...))", client);
  }
  if (url !== undefined && (typeof url !== "string" || !/^rediss?:\/\//.test(url))) {
    throw new InvalidOptionError("url", "a redis:// or rediss:// URL", url);
  }
  if (client !== undefined && url !== undefined) throw new InvalidOptionError("url", "left out when a client is given", url);
  if (redis !== undefined && (redis === null || typeof redis !== "object" || Array.isArray(redis))) {
    throw new InvalidOptionError("redis", "an object of ioredis options", redis);
  }
  const heartbeatInterval = ms(options, "heartbeatInterval", 5000);
  const nodeTimeout = ms(options, "nodeTimeout", Math.max(15_000, 3 * heartbeatInterval));
  if (nodeTimeout <= heartbeatInterval) {
    throw new InvalidOptionError("nodeTimeout", `more than heartbeatInterval (${heartbeatInterval}); three times as much is a good choice`, nodeTimeout);
  }
  const maxRemoteRequests = (options as { maxRemoteRequests?: unknown }).maxRemoteRequests ?? 1000;
  if (typeof maxRemoteRequests !== "number" || !Number.isInteger(maxRemoteRequests) || maxRemoteRequests < 1) {
    throw new InvalidOptionError("maxRemoteRequests", "an integer >= 1", maxRemoteRequests);
  }
  const requestTimeout = ms(options, "requestTimeout", 5000);
  const maxAckTimeout = ms(options, "maxAckTimeout", 60_000);
  const replayWindow = ms(options, "replayWindow", 60_000);
  const secrets = Object.freeze(resolveSecret((options as { secret?: unknown }).secret));
  return Object.freeze({
    prefix,
    secrets,
    client,
    url,
    redis: { ...redis },
    heartbeatInterval,
    nodeTimeout,
    requestTimeout,
    maxRemoteRequests,
    maxAckTimeout,
    replayWindow,
  });
}

const SECRET = `a secret of at least ${MIN_SECRET_BYTES} bytes (a string or bytes), [next, current] while rotating, or false to accept unsigned messages (see docs/scaling.md)`;

/** The secrets as bytes, the signing one first; none when signing is off. The value never shows in an error. */
function resolveSecret(secret: unknown): Buffer[] {
  if (secret === false) return [];
  if (secret === undefined) throw new InvalidOptionError("secret", SECRET, undefined);
  const list = Array.isArray(secret) ? secret : [secret];
  if (list.length < 1 || list.length > 2) throw new InvalidOptionError("secret", SECRET, `an array of ${list.length}`);
  return list.map((item: unknown, index) => {
    const bytes = typeof item === "string" ? Buffer.from(item, "utf8") : item instanceof Uint8Array ? Buffer.from(item) : null;
    const name = Array.isArray(secret) ? `secret[${index}]` : "secret";
    if (bytes === null) throw new InvalidOptionError(name, SECRET, item);
    if (bytes.length < MIN_SECRET_BYTES) throw new InvalidOptionError(name, SECRET, `a secret of ${bytes.length} bytes (not shown)`);
    return bytes;
  });
}

function ms(options: object, name: string, fallback: number): number {
  const value = (options as Record<string, unknown>)[name];
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value <= 0 || value > 2_147_483_647) {
    throw new InvalidOptionError(name, "an integer number of milliseconds > 0", value);
  }
  return value;
}
