/**
 * `endpoint.cluster`: questions and acknowledged emits about connections on any process of the
 * endpoint, through its broker. With the default in-process broker the cluster is this process.
 * @module
 */
import type { BrokerChannel, BrokerStats, ClusterLink, RequestOutcome } from "./broker.js";
import { ErrorCode, WsmountError } from "./errors.js";
import {
  AckError,
  AckErrorCode,
  RemoteError,
  isEventName,
  type AckArgs,
  type AckOptions,
  type AckResult,
  type DefaultEventMap,
  type EventMap,
  type EventNames,
} from "./protocol/index.js";

/**
 * Cluster-wide queries. Each one asks the broker, so each is async; it rejects with a `WsmountError`
 * (`ERR_WSMOUNT_BROKER`) when the broker cannot answer (unreachable, or no answer in time).
 */
export class Cluster<Data = unknown, Out extends EventMap = DefaultEventMap> {
  readonly #channel: BrokerChannel;
  readonly #ackTimeout: number;

  /** Made by the endpoint (`ws.cluster`), never by application code. */
  constructor(channel: BrokerChannel, ackTimeout: number) {
    this.#channel = channel;
    this.#ackTimeout = ackTimeout;
  }

  /** True when a connection with this id is open on any process. */
  isOnline(id: string): Promise<boolean> {
    return this.#ask((link) => link.isOnline(checkId(id)));
  }

  /** The number of connections in `room` across every process. */
  roomSize(room: string): Promise<number> {
    return this.#ask((link) => link.roomSize(checkRoom(room)));
  }

  /**
   * The session data of connection `id` on whichever process holds it, or `undefined` when no process
   * does. A connection of this process gives its data object itself; one of another process, a copy
   * that travelled as JSON.
   */
  async getSession(id: string): Promise<Data | undefined> {
    const outcome = await this.#ask((link) => link.request(checkId(id), { type: "session" }));
    switch (outcome.status) {
      case "ok":
        return outcome.value as Data;
      case "not-found":
        return undefined;
      case "timeout":
        throw new WsmountError(ErrorCode.BROKER, `wsmount: the process holding connection ${id} did not answer in time`);
      default:
        throw rebuild(outcome.error, "session");
    }
  }

  /**
   * Emits `event` to connection `id`, on whichever process holds it, and waits for the client's
   * answer. Rejects as `Connection.emitWithAck` does: `RemoteError` when the client's handler failed,
   * `AckError` on timeout (`ERR_WSMOUNT_ACK_TIMEOUT`; this endpoint's `ackTimeout`, or the `timeout`
   * given after the data) or when no process has the connection, or it closes, or its process dies
   * (`ERR_WSMOUNT_DISCONNECTED`).
   */
  async emitWithAck<K extends EventNames<Out>>(id: string, event: K, ...args: AckArgs<Out, K>): Promise<AckResult<Out, K>> {
    checkId(id);
    if (!isEventName(event)) throw new TypeError(`wsmount: invalid event name ${JSON.stringify(String(event)).slice(0, 140)}`);
    const options = (args.length > 1 ? args[args.length - 1] : undefined) as AckOptions | undefined;
    const timeout = options?.timeout ?? this.#ackTimeout;
    if (!Number.isInteger(timeout) || timeout < 0) throw new TypeError(`wsmount: option "timeout" must be an integer >= 0; got ${String(timeout)}`);
    const outcome: RequestOutcome = await this.#ask((link) => link.request(id, { type: "emitWithAck", event, data: args[0], timeout }));
    switch (outcome.status) {
      case "ok":
        return outcome.value as AckResult<Out, K>;
      case "not-found":
        throw new AckError(event, AckErrorCode.disconnected, `wsmount: no process has an open connection ${id} to emit "${event}" to`);
      case "timeout":
        throw new AckError(event, AckErrorCode.timeout, `wsmount: no acknowledgement for "${event}" from ${id} within ${timeout} ms`);
      default:
        throw rebuild(outcome.error, event);
    }
  }

  /** The broker's counters (is it connected, what it carried and dropped). */
  stats(): BrokerStats {
    return this.#channel.stats?.() ?? { connected: true, published: 0, received: 0, dropped: 0, errors: 0, reconnects: 0 };
  }

  async #ask<T>(question: (link: ClusterLink) => Promise<T>): Promise<T> {
    const link = this.#channel.cluster;
    if (link === undefined) throw new WsmountError(ErrorCode.BROKER, "wsmount: this endpoint's broker does not answer cluster-wide queries");
    try {
      return await question(link);
    } catch (error) {
      if (error instanceof TypeError || error instanceof WsmountError) throw error;
      const message = error instanceof Error ? error.message : String(error);
      throw new WsmountError(ErrorCode.BROKER, `wsmount: cluster query failed: ${message}`, { cause: error });
    }
  }
}

/** Turns an error that crossed processes back into the class the local call would have thrown. */
function rebuild(error: { name: string; message: string; code?: string | undefined }, event: string): Error {
  if (error.name === "AckError") return new AckError(event, error.code ?? AckErrorCode.disconnected, error.message);
  if (error.name === "RemoteError") return new RemoteError(event, error.message, error.code);
  if (error.name === "TypeError") return new TypeError(error.message);
  return new WsmountError(ErrorCode.BROKER, error.message);
}

/** What a failed request becomes on the wire: class name, message and code, never a stack. */
export function outcomeOf(error: unknown): RequestOutcome {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { status: "error", error: { name: error.name, message: error.message, code: typeof code === "string" ? code : undefined } };
  }
  return { status: "error", error: { name: "Error", message: String(error) } };
}

function checkId(id: string): string {
  if (typeof id !== "string" || id.length === 0) throw new TypeError(`wsmount: a connection id must be a non-empty string; got ${String(id)}`);
  return id;
}

function checkRoom(room: string): string {
  if (typeof room !== "string" || room.length === 0) throw new TypeError(`wsmount: a room name must be a non-empty string; got ${String(room)}`);
  return room;
}
