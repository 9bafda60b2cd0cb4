/**
 * Cross-process fan-out. Every room, targeted and broadcast send goes through a broker, so scaling out
 * to many processes swaps the broker and changes no call site. The default delivers in this process.
 * @module
 */

/** One message to deliver to a set of connections. */
export interface Publication {
  /**
   * Rooms to deliver to; a connection's id names a room holding just that connection. Empty: every
   * connection of the endpoint.
   */
  readonly to: readonly string[];
  /** Rooms (or connection ids) whose connections are left out. */
  readonly except: readonly string[];
  /** The complete message: an encoded event envelope, or a raw message. */
  readonly data: string | Uint8Array;
  /** Send as a binary message. */
  readonly binary: boolean;
}

/** Where a broker reports faults; a broker never throws into a send. */
export type BrokerErrorHandler = (error: Error, stage: "connect" | "publish" | "subscribe" | "deliver") => void;

/** An endpoint's connection to a broker. */
export interface BrokerChannel {
  /**
   * Delivers `publication` on every process of the endpoint, this one included (synchronously, before
   * returning). Never throws: faults go to the error handler.
   */
  publish(publication: Publication): void;
  /** Leaves the channel. */
  close(): Promise<void>;
}

/** Carries publications between the processes that serve the same endpoint. */
export interface Broker {
  /**
   * Joins `channel` (the endpoint's `name`). `deliver` must be called once for every publication of any
   * process on the channel, this process's own ones included, and never twice for the same one.
   */
  connect(channel: string, deliver: (publication: Publication) => void, onError: BrokerErrorHandler): BrokerChannel;
}

/** The default broker: one process, delivery in place. */
export function memoryBroker(): Broker {
  return {
    connect(_channel, deliver, onError) {
      let open = true;
      return {
        publish(publication) {
          if (!open) return;
          try {
            deliver(publication);
          } catch (error) {
            onError(error instanceof Error ? error : new Error(String(error)), "deliver");
          }
        },
        async close() {
          open = false;
        },
      };
    },
  };
}
