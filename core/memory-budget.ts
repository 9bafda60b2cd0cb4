/**
 * A process-wide budget for what all connections of all endpoints hold in outgoing buffers. Each
 * connection is bounded by `maxBufferedAmount`, but many slow readers together are not: when their sum
 * passes the budget, the largest consumers are closed with 1013 until the sum is back under 90% of it.
 * Checked from the endpoints' heartbeat ticks, at most every {@link BUDGET_CHECK_INTERVAL} ms.
 * @module
 */
import { totalmem } from "node:os";
import { InvalidOptionError } from "./errors.js";

/** What the budget needs of a connection. */
export interface Consumer {
  readonly bufferedAmount: number;
  readonly readyState: number;
  /** Closes the connection with 1013, counted under `closedBy.memoryBudget`. */
  _shedForMemory(): void;
}

/** The connections of one endpoint. */
export type Fleet = () => Iterable<Consumer>;

/** How often the sum is computed at most (it walks every open connection). */
export const BUDGET_CHECK_INTERVAL = 250;

const OPEN = 1;

/** The default: a quarter of the machine's memory, at most 1 GiB. */
export const DEFAULT_MEMORY_BUDGET = Math.min(1024 * 1024 * 1024, Math.floor(totalmem() / 4));

let budget = DEFAULT_MEMORY_BUDGET;
let lastCheck = -Infinity;
const fleets = new Set<Fleet>();

/**
 * Sets the process-wide budget for outgoing buffers, in bytes (`Infinity` turns it off). Applies to every
 * endpoint of the process. @defaultValue a quarter of the machine's memory, at most 1 GiB
 */
export function setOutgoingMemoryBudget(bytes: number): void {
  if (bytes !== Infinity && (typeof bytes !== "number" || !Number.isInteger(bytes) || bytes < 1)) {
    throw new InvalidOptionError("outgoingMemoryBudget", "a positive integer number of bytes or Infinity", bytes);
  }
  budget = bytes;
  lastCheck = -Infinity;
}

/** The budget in force. */
export function outgoingMemoryBudget(): number {
  return budget;
}

/** Adds an endpoint's connections to the budget; returns the function that takes them out. */
export function joinBudget(fleet: Fleet): () => void {
  fleets.add(fleet);
  return () => void fleets.delete(fleet);
}

/** Sums the open connections' outgoing buffers and, over budget, closes the largest consumers first. */
export function checkBudget(now: number): void {
  if (budget === Infinity || now - lastCheck < BUDGET_CHECK_INTERVAL) return;
  lastCheck = now;
  let total = 0;
  for (const fleet of fleets) for (const consumer of fleet()) if (consumer.readyState === OPEN) total += consumer.bufferedAmount;
  if (total <= budget) return;
  const heavy: Array<[Consumer, number]> = [];
  for (const fleet of fleets) {
    for (const consumer of fleet()) {
      const amount = consumer.bufferedAmount;
      if (consumer.readyState === OPEN && amount > 0) heavy.push([consumer, amount]);
    }
  }
  heavy.sort((a, b) => b[1] - a[1]);
  const target = budget * 0.9;
  for (const [consumer, amount] of heavy) {
    if (total <= target) break;
    total -= amount;
    consumer._shedForMemory();
  }
}
