/**
 * Requests this process sent to others (sessions, acknowledged emits) and are still waiting for an
 * answer: correlation ids, timers, and what ends them besides an answer (the other process died, this
 * process lost its subscription, the endpoint closed).
 * @module
 */
import type { RequestOutcome } from "../../core/index.js";

interface Waiting {
  readonly owner: string;
  readonly resolve: (outcome: RequestOutcome) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout | null;
}

/** The requests of one process. */
export class Requests {
  readonly #waiting = new Map<number, Waiting>();
  #next = 0;

  /**
   * Sends a request with `send(rid)` and waits for its answer, up to `timeout` ms (0: until answered
   * or ended otherwise), after which it resolves with `{ status: "timeout" }`.
   */
  start(owner: string, timeout: number, send: (rid: number) => Promise<unknown>): Promise<RequestOutcome> {
    const rid = this.#next;
    this.#next = this.#next >= Number.MAX_SAFE_INTEGER ? 0 : this.#next + 1;
    return new Promise<RequestOutcome>((resolve, reject) => {
      const timer = timeout > 0 ? setTimeout(() => this.answer(rid, { status: "timeout" }), timeout) : null;
      this.#waiting.set(rid, { owner, resolve, reject, timer });
      const failed = (error: unknown) => this.#end(rid, (waiting) => waiting.reject(error instanceof Error ? error : new Error(String(error))));
      try {
        send(rid).catch(failed);
      } catch (error) {
        failed(error);
      }
    });
  }

  /**
   * An answer arrived from process `from` (or, without `from`, the timer fired or the owner is gone);
   * later ones for the same request are ignored. Returns false when no request `rid` waits for an
   * answer from `from`: an answer from another process than the one asked is not taken.
   */
  answer(rid: number, outcome: RequestOutcome, from?: string): boolean {
    if (from !== undefined && this.#waiting.get(rid)?.owner !== from) return false;
    this.#end(rid, (waiting) => waiting.resolve(outcome));
    return true;
  }

  /** The processes that owe an answer. */
  owners(): Set<string> {
    const owners = new Set<string>();
    for (const waiting of this.#waiting.values()) owners.add(waiting.owner);
    return owners;
  }

  /** Process `owner` is gone: its connections with it, so each of its requests ends as not found. */
  ownerGone(owner: string): void {
    for (const [rid, waiting] of this.#waiting) if (waiting.owner === owner) this.answer(rid, { status: "not-found" });
  }

  /** Ends every request with `error` (the answers can no longer arrive). */
  failAll(error: Error): void {
    for (const rid of [...this.#waiting.keys()]) this.#end(rid, (waiting) => waiting.reject(error));
  }

  /** Requests waiting. */
  get size(): number {
    return this.#waiting.size;
  }

  #end(rid: number, settle: (waiting: Waiting) => void): void {
    const waiting = this.#waiting.get(rid);
    if (waiting === undefined) return;
    this.#waiting.delete(rid);
    if (waiting.timer !== null) clearTimeout(waiting.timer);
    settle(waiting);
  }
}
