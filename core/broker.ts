/**
 * Cross-process fan-out. Every room, targeted and broadcast send goes through a broker, so scaling out
 * to many processes swaps the broker and changes no call site. The default delivers in this process.
 * @module
 */
import { callGuarded } from "./guard.js";

/** One message to deliver to a set of connections. */
export interface Publication {
  /**
   * Rooms to deliver to; a connection's id names a room holding just that connection. Empty: every
   * connection of the endpoint.
   */
  readonly to: readonly string[];
  /** Rooms (or connection ids) whose connections are left out. */
  readonly except: readonly string[];
  /**
   * The complete message: an encoded event envelope, or a raw message. A broker hands it to every
   * process as it got it: a string as a string, bytes as bytes.
   */
  readonly data: string | Uint8Array;
  /** Send as a binary message. */
  readonly binary: boolean;
}

/** Where a broker fault happened. */
export type BrokerStage = "connect" | "publish" | "subscribe" | "deliver" | "presence" | "request";

/** Where a broker reports faults; a broker never throws into a send. */
export type BrokerErrorHandler = (error: Error, stage: BrokerStage) => void;

/**
 * Where a broker says it works again after a failure it reported (reconnected and resubscribed), so that
 * the endpoint can end the logged outage with a "recovered" line.
 */
export type BrokerRecoveredHandler = () => void;

/** A request for one connection, answered by the process that holds it. */
export type ClusterRequest =
  /** The connection's session data. */
  | { readonly type: "session" }
  /** Emit `event` to the connection and wait for the client's answer (`timeout` ms, 0: until it closes). */
  | { readonly type: "emitWithAck"; readonly event: string; readonly data: unknown; readonly timeout: number };

/**
 * How a {@link ClusterRequest} ended. Plain data (JSON), so that a broker can carry it between
 * processes as it is.
 */
export type RequestOutcome =
  | { readonly status: "ok"; readonly value?: unknown }
  /** The request failed on the holding process: `name` is the error's class (`AckError`, `RemoteError`...). */
  | { readonly status: "error"; readonly error: { readonly name: string; readonly message: string; readonly code?: string | undefined } }
  /** No process holds an open connection with this id (or the one that did has died). */
  | { readonly status: "not-found" }
  /** The holding process did not answer in time. */
  | { readonly status: "timeout" };

/** What an endpoint tells its broker about this process, for cluster-wide queries and requests. */
export interface BrokerHost {
  /** True when this process has an open connection with this id. */
  hasConnection(id: string): boolean;
  /** The ids of this process's open connections. */
  connectionIds(): Iterable<string>;
  /** How many connections of this process are in `room`. */
  roomSize(room: string): number;
  /** The rooms that have members in this process. */
  roomNames(): Iterable<string>;
  /** Answers a request for connection `id` of this process; never rejects. */
  handle(id: string, request: ClusterRequest): Promise<RequestOutcome>;
}

/**
 * The cluster side of a broker channel: presence and requests across every process of the endpoint.
 * Queries reject only on broker faults (the broker is unreachable); the error says why.
 */
export interface ClusterLink {
  /**
   * This process's presence changed: a connection opened or closed (`"connection"`, its id), or a
   * room's number of members here changed (`"room"`, its name). The broker reads the current state
   * from its host. Never throws.
   */
  changed(kind: "connection" | "room", name: string): void;
  /** True when some process has an open connection with this id. */
  isOnline(id: string): Promise<boolean>;
  /** The number of connections in `room` across every process. */
  roomSize(room: string): Promise<number>;
  /** Runs `request` on the process that holds connection `id`. */
  request(id: string, request: ClusterRequest): Promise<RequestOutcome>;
}

/** A broker channel's counters. */
export interface BrokerStats {
  /** The broker can reach the other processes now. */
  connected: boolean;
  /** Publications handed to the other processes. */
  published: number;
  /** Publications received from the other processes. */
  received: number;
  /** Publications that reached this process only, because the broker was unreachable. */
  dropped: number;
  /** Faults reported to the error handler. */
  errors: number;
  /** Times the broker got its connection back after losing it. */
  reconnects: number;
  /**
   * Messages from other processes that the broker refused and dropped, when it checks them (the Redis
   * broker: not signed with its secret, replayed, malformed, or a request from an unknown process).
   */
  rejected?: number;
}

/** An endpoint's connection to a broker. */
export interface BrokerChannel {
  /**
   * Delivers `publication` on every process of the endpoint, this one included (synchronously, before
   * returning). Never throws: faults go to the error handler.
   */
  publish(publication: Publication): void;
  /** Leaves the channel. */
  close(): Promise<void>;
  /** Presence and requests across processes; a broker without it cannot answer `endpoint.cluster`. */
  readonly cluster?: ClusterLink;
  /** The channel's counters. */
  stats?(): BrokerStats;
}

/** Carries publications between the processes that serve the same endpoint. */
export interface Broker {
  /**
   * Joins `channel` (the endpoint's `name`). `deliver` must be called once for every publication of any
   * process on the channel, this process's own ones included, and never twice for the same one.
   * `host` (given by every endpoint) answers for this process in cluster-wide queries and requests.
   * `onRecovered` (given by every endpoint) is to be called when the broker works again after a failure
   * it reported through `onError`; it is optional for brokers: one that never calls it keeps working,
   * and the endpoint's logged outage then ends after a quiet minute instead.
   */
  connect(
    channel: string,
    deliver: (publication: Publication) => void,
    onError: BrokerErrorHandler,
    host?: BrokerHost,
    onRecovered?: BrokerRecoveredHandler,
  ): BrokerChannel;
}

/** The default broker: one process, delivery in place; cluster-wide queries are this process's answers. */
export function memoryBroker(): Broker {
  // Nothing to lose or get back: `onRecovered` is never needed.
  return {
    connect(_channel, deliver, onError, host) {
      let open = true;
      const stats: BrokerStats = { connected: true, published: 0, received: 0, dropped: 0, errors: 0, reconnects: 0 };
      const failed = (error: unknown): void => {
        stats.errors++;
        onError(error instanceof Error ? error : new Error(String(error)), "deliver");
      };
      const cluster: ClusterLink | undefined =
        host === undefined
          ? undefined
          : {
              changed() {},
              isOnline: async (id) => host.hasConnection(id),
              roomSize: async (room) => host.roomSize(room),
              request: (id, request) => host.handle(id, request),
            };
      return {
        publish(publication) {
          if (!open) return;
          stats.published++;
          callGuarded(failed, deliver, publication);
        },
        async close() {
          open = false;
          stats.connected = false;
        },
        cluster,
        stats: () => ({ ...stats }),
      };
    },
  };
}
