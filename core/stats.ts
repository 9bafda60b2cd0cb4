/**
 * Endpoint counters: plain numbers bumped on the hot path, copied out by `stats()`.
 * @module
 */
import type { RefusalReason } from "./upgrade/handshake.js";

/** A snapshot of an endpoint's counters, as returned by `stats()`. */
export interface EndpointStats {
  /** Connections open now. */
  connections: number;
  handshakes: {
    /** Handshakes completed with a 101. */
    accepted: number;
    /** Handshakes refused by wsmount, by reason (framework middleware refusals are the framework's). */
    refused: Partial<Record<RefusalReason, number>>;
  };
  /** Messages received (after reassembly of fragments). */
  messagesIn: number;
  /** Messages sent, counting each recipient of a broadcast. */
  messagesOut: number;
  /** Bytes read from the sockets, framing and compression included. */
  bytesIn: number;
  /** Bytes written to the sockets, framing and compression included. */
  bytesOut: number;
  /** Messages dropped by the `"drop"` backpressure policy. */
  messagesDropped: number;
  /** Received messages dropped or refused by the `rateLimit` option. */
  messagesRateLimited: number;
  /**
   * Connections closed or terminated by wsmount, by cause: each close under exactly one, the rule that
   * started it. A connection already closing (for any reason) that a later rule terminates, because
   * its peer never completes the close, is not counted again.
   */
  closedBy: {
    backpressure: number;
    pongTimeout: number;
    idleTimeout: number;
    writeTimeout: number;
    shutdown: number;
    /** Closed with 1008 by the `rateLimit` option's `"close"` policy. */
    rateLimit: number;
    /** Closed with 1013 to bring the process's outgoing buffers back under the memory budget. */
    memoryBudget: number;
  };
}

/** A cause in `stats().closedBy`. */
export type CloseCause = keyof EndpointStats["closedBy"];

/** The mutable counters behind {@link EndpointStats}. */
export class Counters {
  accepted = 0;
  refused: Partial<Record<RefusalReason, number>> = {};
  messagesIn = 0;
  messagesOut = 0;
  /** Bytes of connections already closed; open ones are read live from their sockets. */
  closedBytesIn = 0;
  closedBytesOut = 0;
  messagesDropped = 0;
  messagesRateLimited = 0;
  closedBy = { backpressure: 0, pongTimeout: 0, idleTimeout: 0, writeTimeout: 0, shutdown: 0, rateLimit: 0, memoryBudget: 0 };

  refuse(reason: RefusalReason): void {
    this.refused[reason] = (this.refused[reason] ?? 0) + 1;
  }
}
