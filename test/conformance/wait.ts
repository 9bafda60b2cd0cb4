/**
 * Bounded polling for conditions that settle asynchronously (socket teardown, GC).
 */
import { setTimeout as sleep } from "node:timers/promises";

/** Poll `condition` every `interval` ms until it holds or `timeout` ms pass; returns whether it held. */
export async function waitUntil(condition: () => boolean, timeout: number, interval = 2): Promise<boolean> {
  const deadline = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() >= deadline) return false;
    await sleep(interval);
  }
  return true;
}
