/**
 * What a leak test counts: open file descriptors of this process, and whether the objects of
 * every upgrade request (the request and its socket) can still be reached after GC.
 */
import { readdirSync } from "node:fs";
import type { Server } from "node:http";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { setTimeout as sleep } from "node:timers/promises";

/** Open file descriptors of this process (Linux). */
export function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}

/** The V8 garbage collector, exposed at run time when node was not started with --expose-gc. */
export function exposeGc(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing) return existing;
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
}

/** Counts upgrade requests and their sockets, and how many of them GC has reclaimed. */
export class UpgradeTracker {
  registered = 0;
  collected = 0;
  readonly #registry = new FinalizationRegistry<string>(() => {
    this.collected++;
  });
  readonly #server: Server;
  readonly #emit: Server["emit"];

  /** Starts observing `server`'s `'upgrade'` events (by wrapping its `emit`; listeners are untouched). */
  constructor(server: Server) {
    this.#server = server;
    this.#emit = server.emit;
    const registry = this.#registry;
    const original = this.#emit;
    const tracker = this;
    server.emit = function emit(this: Server, event: string | symbol, ...args: unknown[]): boolean {
      if (event === "upgrade") {
        registry.register(args[0] as object, "request");
        registry.register(args[1] as object, "socket");
        tracker.registered += 2;
      }
      return (original as (this: Server, event: string | symbol, ...rest: unknown[]) => boolean).call(this, event, ...args);
    } as Server["emit"];
  }

  /** Stops observing. */
  restore(): void {
    this.#server.emit = this.#emit;
  }

  /** Runs GC until everything registered was reclaimed or `timeout` ms pass; returns what is left. */
  async collect(gc: () => void, timeout = 5_000): Promise<number> {
    const deadline = Date.now() + timeout;
    while (this.collected < this.registered && Date.now() < deadline) {
      gc();
      // Finalization callbacks run in a later task.
      await sleep(20);
    }
    return this.registered - this.collected;
  }
}
