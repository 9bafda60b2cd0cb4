/**
 * One endpoint's channel on the Redis broker: its publications (one Redis channel per endpoint, which
 * every process of the endpoint subscribes to), its presence, and requests between processes (one
 * Redis channel per process).
 *
 * What arrives from Redis is checked before anything else is done with it (issue "Trust boundaries"):
 * its signature, its freshness (a sender's messages come in its order and within `replayWindow`), and
 * for a request, that its sender is a live process of the endpoint. A message that fails a check is
 * dropped, counted in `stats().rejected` and reported once per episode.
 * @module
 */
import { randomBytes } from "node:crypto";
import {
  ErrorCode,
  WsmountError,
  type BrokerChannel,
  type BrokerErrorHandler,
  type BrokerHost,
  type BrokerStage,
  type BrokerStats,
  type ClusterLink,
  type ClusterRequest,
  type Publication,
  type RequestOutcome,
} from "../../core/index.js";
import type { BrokerRecoveredHandler } from "../../core/broker.js";
import { callAsync, callGuarded, whenSettled } from "../../core/guard.js";
import type { ConnectionsMember, RedisConnections } from "./connections.js";
import type { ResolvedRedisOptions } from "./options.js";
import { Presence } from "./presence.js";
import { Requests } from "./requests.js";
import { locateScript, roomSizeScript } from "./scripts.js";
import { channelTag, type Signer } from "./signing.js";
import {
  Kind,
  decodeNodeMessage,
  decodePublication,
  encodeAnswer,
  encodeLeave,
  encodePublication,
  encodeRequest,
  readBody,
  readEnvelope,
  sentBy,
  type Body,
  type Envelope,
  type Sender,
} from "./wire.js";

/** Counters of a Redis broker channel: those of every broker, `rejected` always there. */
export interface RedisBrokerStats extends BrokerStats {
  /**
   * Messages from Redis dropped without being delivered or answered: not signed with this broker's
   * secret, replayed, malformed, or a request from a process that is not a live one of the endpoint.
   */
  rejected: number;
}

/** A second report of refused messages waits until none was refused for this long: one report per episode. */
const REJECTION_EPISODE = 60_000;

/** An endpoint's channel on Redis; it is also the endpoint's cluster link. */
export class RedisChannel implements BrokerChannel, ClusterLink, ConnectionsMember {
  /** This process's id on the channel: random per channel, so a process never takes its own messages for another's. */
  readonly node = randomBytes(9).toString("base64url");
  readonly #nodeBytes = Buffer.from(this.node, "latin1");
  readonly #connections: RedisConnections;
  readonly #options: ResolvedRedisOptions;
  readonly #signer: Signer;
  readonly #sender: Sender;
  readonly #deliver: (publication: Publication) => void;
  readonly #onError: BrokerErrorHandler;
  readonly #onRecovered: BrokerRecoveredHandler | undefined;
  readonly #host: BrokerHost;
  readonly #base: string;
  readonly #publications: string;
  readonly #publicationsTag: Buffer;
  readonly #inbox: string;
  readonly #inboxTag: Buffer;
  /** Null for a channel without a host (used directly, not by an endpoint): nothing to tell. */
  readonly #presence: Presence | null;
  readonly #requests = new Requests();
  readonly #heartbeat: NodeJS.Timeout;
  readonly #onClosed: (channel: RedisChannel) => Promise<void>;
  readonly #stats = { published: 0, received: 0, dropped: 0, errors: 0, rejected: 0 };
  /** The last sequence number taken from each sender, and when: a replayed message is refused. */
  readonly #seen = new Map<string, { seq: number; at: number }>();
  /** Processes found live in the presence registry, until when that answer holds. */
  readonly #live = new Map<string, number>();
  /** Requests of other processes being worked on (bounded by maxRemoteRequests). */
  #handling = 0;
  /**
   * Subscribers of the publication channel (this process's own included) that a publication should
   * reach: the last count, never lowered while Redis is away nor for `nodeTimeout` after it is back, so
   * that publications missing processes that have not resubscribed yet are counted as dropped.
   */
  #subscribers = 0;
  #settledAt = 0;
  #seq = 0;
  #dropReported = false;
  #lastRejected = -Infinity;
  #closing: Promise<void> | null = null;

  constructor(
    connections: RedisConnections,
    options: ResolvedRedisOptions,
    signer: Signer,
    name: string,
    deliver: (publication: Publication) => void,
    onError: BrokerErrorHandler,
    host: BrokerHost | undefined,
    onRecovered: BrokerRecoveredHandler | undefined,
    onClosed: (channel: RedisChannel) => Promise<void>,
  ) {
    this.#connections = connections;
    this.#options = options;
    this.#signer = signer;
    this.#sender = { signer, node: this.node, next: () => (this.#seq = this.#seq >= Number.MAX_SAFE_INTEGER ? 0 : this.#seq + 1) };
    this.#deliver = deliver;
    this.#onError = onError;
    this.#onRecovered = onRecovered;
    this.#host = host ?? NO_HOST;
    this.#onClosed = onClosed;
    this.#base = `${options.prefix}:${name}`;
    this.#publications = `${this.#base}:pub`;
    this.#publicationsTag = channelTag(this.#publications);
    this.#inbox = this.#nodeKey(this.node);
    this.#inboxTag = channelTag(this.#inbox);
    const keys = { nodes: `${this.#base}:nodes`, alive: `${this.#inbox}:alive`, conns: `${this.#inbox}:conns`, rooms: `${this.#inbox}:rooms` };
    this.#presence = host === undefined ? null : new Presence(connections.command, host, this.node, keys, options.nodeTimeout, (error) => this.#fault(error, "presence"));
    connections.subscribe(this.#publications, this.#onPublication, (error) => this.#fault(error, "subscribe"));
    connections.subscribe(this.#inbox, this.#onNodeMessage, (error) => this.#fault(error, "subscribe"));
    this.#heartbeat = setInterval(() => this.#beat(), options.heartbeatInterval).unref();
    connections.add(this);
  }

  /** The cluster side of this channel (the channel itself). */
  get cluster(): ClusterLink {
    return this;
  }

  publish(publication: Publication): void {
    if (this.#closing !== null) return;
    if (this.#connections.commandReady) {
      try {
        const message = encodePublication(this.#sender, this.#publicationsTag, publication);
        this.#connections.command.publish(this.#publications, message).then(this.#carried, (error: unknown) => {
          this.#stats.dropped++;
          this.#fault(error, "publish");
        });
      } catch (error) {
        this.#fault(error, "publish");
      }
    } else {
      this.#dropped();
    }
    callGuarded(this.#deliverFailed, this.#deliver, publication);
  }

  changed(kind: "connection" | "room", name: string): void {
    this.#presence?.changed(kind, name);
  }

  async isOnline(id: string): Promise<boolean> {
    if (this.#host.hasConnection(id)) return true;
    return (await this.#locate(id)) !== null;
  }

  async roomSize(room: string): Promise<number> {
    this.#requireRedis();
    return Number(await roomSizeScript.run(this.#connections.command, `${this.#base}:nodes`, `${this.#base}:node:`, room));
  }

  async request(id: string, request: ClusterRequest): Promise<RequestOutcome> {
    if (this.#host.hasConnection(id)) return this.#host.handle(id, request);
    const owner = await this.#locate(id);
    if (owner === null) return { status: "not-found" };
    // The connection was here a moment ago and has just left.
    if (owner === this.node) return this.#host.handle(id, request);
    // The holding process answers only a process it finds in the presence registry.
    if (this.#presence === null) throw new WsmountError(ErrorCode.BROKER, "wsmount: a broker channel used without an endpoint cannot ask other processes: it is not in the presence registry");
    await this.#presence.written(this.#options.requestTimeout);
    const { requestTimeout, maxAckTimeout } = this.#options;
    // The holding process waits at most maxAckTimeout for the client (see #answer): so does this one.
    const capped = request.type === "emitWithAck" && (request.timeout === 0 || request.timeout > maxAckTimeout);
    const sent: ClusterRequest = capped ? { ...request, timeout: maxAckTimeout } : request;
    const timeout = sent.type === "emitWithAck" ? sent.timeout + requestTimeout : requestTimeout;
    const inbox = this.#nodeKey(owner);
    const outcome = await this.#requests.start(owner, timeout, (rid) => this.#connections.command.publish(inbox, encodeRequest(this.#sender, channelTag(inbox), rid, id, sent)));
    if (capped && outcome.status === "timeout" && sent.type === "emitWithAck") {
      // No answer at all (a process that never answers): said as the AckError the caller expects.
      const message = `wsmount: no acknowledgement for "${sent.event}" from ${id} within ${timeout} ms (its timeout cut to maxAckTimeout, ${maxAckTimeout} ms, plus requestTimeout)`;
      return { status: "error", error: { name: "AckError", message, code: "ERR_WSMOUNT_ACK_TIMEOUT" } };
    }
    return outcome;
  }

  stats(): RedisBrokerStats {
    return { connected: this.#connections.connected, ...this.#stats, reconnects: this.#connections.reconnects };
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /** For RedisConnections: the command connection is (again) ready. */
  commandReady(): void {
    this.#dropReported = false;
    // After the reconnect's own work (resubscribing, flushing queues) has gone out.
    setImmediate(() => {
      if (this.#closing === null) this.#presence?.resync();
    });
  }

  /** For RedisConnections: Redis is unreachable. */
  outage(error: Error): void {
    this.#settledAt = Infinity;
    this.#fault(error, "connect");
  }

  /** For RedisConnections: Redis is reachable again after a reported outage, subscriptions included. */
  recovered(): void {
    // Processes that were subscribed before the outage count as missed until nodeTimeout has passed.
    this.#settledAt = Date.now() + this.#options.nodeTimeout;
    if (this.#closing !== null || this.#onRecovered === undefined) return;
    callGuarded(this.#connectFailed, this.#onRecovered);
  }

  readonly #connectFailed = (error: unknown): void => this.#fault(error, "connect");

  /** For RedisConnections: the command connection was lost: presence is rewritten once it is back. */
  commandLost(): void {
    this.#settledAt = Infinity;
    this.#presence?.lost();
  }

  /** For RedisConnections: the subscription was lost: answers in flight are lost with it. */
  subscriberLost(): void {
    this.#settledAt = Infinity;
    if (this.#requests.size > 0) {
      this.#requests.failAll(new WsmountError(ErrorCode.BROKER, "wsmount: the connection to Redis was lost before the answer arrived"));
    }
  }

  async #close(): Promise<void> {
    clearInterval(this.#heartbeat);
    this.#requests.failAll(new WsmountError(ErrorCode.BROKER, "wsmount: the endpoint closed before the answer arrived"));
    // Tells the others first, so that they stop counting this process among the subscribers.
    if (this.#connections.commandReady) {
      try {
        await this.#connections.command.publish(this.#publications, encodeLeave(this.#sender, this.#publicationsTag));
      } catch {
        // Unreachable: the others count this process out at their next heartbeat.
      }
    }
    this.#connections.unsubscribe(this.#publications, this.#onPublication);
    this.#connections.unsubscribe(this.#inbox, this.#onNodeMessage);
    await this.#presence?.stop();
    await this.#onClosed(this);
  }

  #beat(): void {
    this.#presence?.heartbeat();
    this.#checkOwners();
    this.#countSubscribers();
    this.#forget();
  }

  /** Ends the requests waiting on processes that have died (their `alive` key expired). */
  #checkOwners(): void {
    if (this.#requests.size === 0 || !this.#connections.commandReady) return;
    const command = this.#connections.command;
    for (const owner of this.#requests.owners()) {
      command.exists(`${this.#nodeKey(owner)}:alive`).then(
        (count) => count === 0 && this.#requests.ownerGone(owner),
        () => {},
      );
    }
  }

  /** Counts the subscribers of the publication channel, the reference for counting publications as dropped. */
  #countSubscribers(): void {
    if (!this.#connections.commandReady) return;
    this.#connections.command.pubsub("NUMSUB", this.#publications).then(
      (reply) => {
        const count = Number((reply as unknown[])[1]);
        if (!Number.isInteger(count)) return;
        this.#subscribers = Date.now() < this.#settledAt ? Math.max(this.#subscribers, count) : count;
      },
      () => {},
    );
  }

  /** A publication's PUBLISH reply: how many subscribers got it. */
  readonly #carried = (receivers: number): void => {
    // This process's own subscriber, while it is away, misses only its own publication.
    const expected = this.#subscribers - (this.#connections.subscriber.status === "ready" ? 0 : 1);
    if (receivers < expected) {
      this.#stats.dropped++;
      return;
    }
    this.#stats.published++;
    if (receivers > this.#subscribers) this.#subscribers = receivers;
  };

  /** Forgets the senders and live processes not heard of for long enough. */
  #forget(): void {
    const now = Date.now();
    const old = now - 2 * this.#options.replayWindow;
    for (const [node, seen] of this.#seen) if (seen.at < old) this.#seen.delete(node);
    for (const [node, until] of this.#live) if (until <= now) this.#live.delete(node);
  }

  async #locate(id: string): Promise<string | null> {
    this.#requireRedis();
    const node = await locateScript.run(this.#connections.command, `${this.#base}:nodes`, `${this.#base}:node:`, id);
    return typeof node === "string" ? node : null;
  }

  #requireRedis(): void {
    if (!this.#connections.commandReady) throw new WsmountError(ErrorCode.BROKER, "wsmount: Redis is unreachable, cluster-wide queries cannot be answered now");
  }

  /**
   * Checks a message that arrived on `channel` (its tag): format, signature, freshness. Returns what it
   * holds, or null when it was refused (and counted, and reported once per episode).
   */
  #check(message: Buffer, channel: string, tag: Buffer, stage: BrokerStage): [Envelope, Body] | null {
    const envelope = readEnvelope(message);
    if (envelope === null) {
      this.#reject(channel, "it is not a message of this broker (format version 2)", stage);
      return null;
    }
    const verdict = this.#signer.verify(tag, message, envelope.keyId);
    if (verdict !== "ok") {
      const why = verdict === "unsigned" ? "it is not signed" : verdict === "unknown key" ? "it is signed with another secret" : "its signature is wrong";
      this.#reject(channel, why, stage);
      return null;
    }
    const body = readBody(message, envelope);
    if (body === null) {
      this.#reject(channel, "it is malformed", stage);
      return null;
    }
    const stale = this.#stale(envelope.node, body);
    if (stale !== null) {
      this.#reject(channel, stale, stage);
      return null;
    }
    return [envelope, body];
  }

  /** Why a signed message is not fresh (a replay), or null when it is. Not checked without signatures: anyone may write anything then. */
  #stale(node: string, body: Body): string | null {
    if (!this.#signer.enabled) return null;
    const now = Date.now();
    const window = this.#options.replayWindow;
    if (body.time < now - window || body.time > now + window) {
      return `it was sent ${Math.round((now - body.time) / 1000)} s ago by its sender's clock, outside replayWindow (${window} ms): a replay, or clocks that disagree`;
    }
    const seen = this.#seen.get(node);
    if (seen === undefined) {
      this.#seen.set(node, { seq: body.seq, at: now });
      return null;
    }
    if (body.seq <= seen.seq) return "it is a replay (its sender has sent a later message already)";
    seen.seq = body.seq;
    seen.at = now;
    return null;
  }

  readonly #onPublication = (message: Buffer): void => {
    // Its own publications come back: skipped before any other work (no signature to check).
    if (this.#closing !== null || sentBy(message, this.#nodeBytes)) return;
    const checked = this.#check(message, this.#publications, this.#publicationsTag, "deliver");
    if (checked === null) return;
    const [envelope, body] = checked;
    if (envelope.kind === Kind.leave) {
      this.#left(envelope.node);
      return;
    }
    const publication = envelope.kind === Kind.publication ? decodePublication(body) : null;
    if (publication === null) {
      this.#reject(this.#publications, "it is malformed", "deliver");
      return;
    }
    this.#stats.received++;
    callGuarded(this.#deliverFailed, this.#deliver, publication);
  };

  /** Process `node` closed its endpoint: one subscriber less, and nothing more to wait for from it. */
  #left(node: string): void {
    if (this.#subscribers > 0) this.#subscribers--;
    this.#live.delete(node);
    this.#requests.ownerGone(node);
  }

  readonly #deliverFailed = (error: unknown): void => this.#fault(error, "deliver");
  readonly #requestFailed = (error: unknown): void => this.#fault(error, "request");

  readonly #onNodeMessage = (message: Buffer): void => {
    if (this.#closing !== null) return;
    const checked = this.#check(message, this.#inbox, this.#inboxTag, "request");
    if (checked === null) return;
    const [envelope, body] = checked;
    const decoded = decodeNodeMessage(envelope, body);
    if (decoded === null) {
      this.#reject(this.#inbox, "it is malformed", "request");
      return;
    }
    if (decoded.kind === "answer") {
      // Taken only from the process the request went to; a late answer (after a timeout) is ignored.
      this.#requests.answer(decoded.rid, decoded.outcome, envelope.node);
      return;
    }
    const from = envelope.node;
    if ((this.#live.get(from) ?? 0) > Date.now()) {
      this.#answer(from, decoded.rid, decoded.id, decoded.request);
      return;
    }
    // Answered only to a live process of this endpoint: one in the presence registry.
    if (!this.#connections.commandReady) return;
    this.#connections.command.exists(`${this.#nodeKey(from)}:alive`).then(
      (count) => {
        if (this.#closing !== null) return;
        if (count === 0) {
          this.#reject(this.#inbox, `it is a request from process ${from}, which is not a live process of this endpoint`, "request");
          return;
        }
        this.#live.set(from, Date.now() + this.#options.heartbeatInterval);
        this.#answer(from, decoded.rid, decoded.id, decoded.request);
      },
      this.#requestFailed,
    );
  };

  /** Works on request `rid` of process `from` for connection `id`, within the bounds, and answers it. */
  #answer(from: string, rid: number, id: string, request: ClusterRequest): void {
    const { maxRemoteRequests, maxAckTimeout } = this.#options;
    if (this.#handling >= maxRemoteRequests) {
      const message = `wsmount: the process holding ${id} already works on ${maxRemoteRequests} requests of other processes (maxRemoteRequests); this one was refused`;
      this.#sendAnswer(from, rid, { status: "error", error: { name: "WsmountError", message, code: ErrorCode.BROKER } });
      return;
    }
    // "Until the connection closes" would let other processes make this one hold acks for ever.
    const capped = request.type === "emitWithAck" && (request.timeout === 0 || request.timeout > maxAckTimeout);
    if (capped && request.type === "emitWithAck") request = { ...request, timeout: maxAckTimeout };
    this.#handling++;
    const done = (outcome: RequestOutcome): void => {
      this.#handling--;
      if (capped && outcome.status === "error" && outcome.error.code === "ERR_WSMOUNT_ACK_TIMEOUT") {
        const message = `${outcome.error.message} (cut to maxAckTimeout, ${maxAckTimeout} ms, of the process holding the connection)`;
        outcome = { status: "error", error: { ...outcome.error, message } };
      }
      this.#sendAnswer(from, rid, outcome);
    };
    whenSettled(
      callAsync(() => this.#host.handle(id, request)),
      done,
      (error: unknown) => {
        this.#requestFailed(error);
        done({ status: "error", error: { name: "WsmountError", message: "wsmount: the request failed on the process holding the connection", code: ErrorCode.BROKER } });
      },
      this.#requestFailed,
    );
  }

  #sendAnswer(to: string, rid: number, outcome: RequestOutcome): void {
    // Unreachable: the asking process fails or times out the request on its side.
    if (!this.#connections.commandReady || this.#closing !== null) return;
    const inbox = this.#nodeKey(to);
    this.#connections.command.publish(inbox, encodeAnswer(this.#sender, channelTag(inbox), rid, outcome)).catch(this.#requestFailed);
  }

  #dropped(): void {
    this.#stats.dropped++;
    if (this.#dropReported) return;
    this.#dropReported = true;
    this.#fault(new Error("Redis is unreachable: publications reach this process only, until it is back (they are not replayed)"), "publish");
  }

  /** A message was refused: counted, and reported when it starts an episode. */
  #reject(channel: string, why: string, stage: BrokerStage): void {
    this.#stats.rejected++;
    const now = Date.now();
    const quiet = now - this.#lastRejected >= REJECTION_EPISODE;
    this.#lastRejected = now;
    if (!quiet) return;
    this.#fault(
      new Error(
        `a message on ${channel} was dropped: ${why}. Is a process running with another secret, or is someone else publishing with the prefix "${this.#options.prefix}"? Refusals are counted in stats().rejected, and reported once per episode`,
      ),
      stage,
    );
  }

  #nodeKey(node: string): string {
    return `${this.#base}:node:${node}`;
  }

  #fault(error: unknown, stage: BrokerStage): void {
    this.#stats.errors++;
    this.#onError(error instanceof Error ? error : new Error(String(error)), stage);
  }
}

/** The host of a channel opened without one: a process with no connections to tell about. */
const NO_HOST: BrokerHost = {
  hasConnection: () => false,
  connectionIds: () => [],
  roomSize: () => 0,
  roomNames: () => [],
  handle: async () => ({ status: "not-found" }),
};
