/**
 * The chat server's log, bounded: whatever clients send, it writes a few lines and then a summary at most
 * every `every` ms. A client can make the server count, never make it write (or stall on stderr).
 * @module
 */
import type { Rate } from "./shared/events.js";
import { TokenBucket } from "./limits.js";

/** Options of the chat's log. */
export interface ChatLogOptions {
  /** Where lines go. @defaultValue console.error */
  write?: (line: string) => void;
  /** Lines about server faults written at once, before the rate applies. @defaultValue 10 */
  burst?: number;
  /**
   * Ms per line past the burst, and between two summaries of what was counted and not written.
   * @defaultValue 10000
   */
  every?: number;
}

/** Characters of one line at most (an error message can carry what a client sent). */
const MAX_LINE = 400;
/** Lines about what clients did wrong, written before they are only counted. */
const CLIENT_BURST = 3;
/** Kinds counted separately in a summary; more are counted as "other". */
const MAX_KINDS = 16;

/**
 * Two budgets: server faults (worth reading, `burst` lines then one per `every` ms) and client faults
 * (bad envelopes, unknown events, oversized messages: a few lines, then counted by kind). What is not
 * written is said in one summary line per `every` ms at most.
 */
export class ChatLog {
  readonly #write: (line: string) => void;
  readonly #every: number;
  readonly #faults: TokenBucket;
  readonly #clients: TokenBucket;
  readonly #unwritten = new Map<string, number>();
  #since = Date.now();
  #timer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(options: ChatLogOptions = {}) {
    this.#write = options.write ?? ((line) => console.error(line));
    this.#every = options.every ?? 10_000;
    const rate = (burst: number): Rate => ({ burst, every: this.#every });
    this.#faults = new TokenBucket(rate(options.burst ?? 10));
    this.#clients = new TokenBucket(rate(CLIENT_BURST));
  }

  /** A fault of the server (a handler that failed, the broker): written unless over the rate. */
  fault(kind: string, text: string): void {
    this.#line(this.#faults, kind, text);
  }

  /** Something a client did wrong: a few written, the rest counted. */
  client(kind: string, text: string): void {
    this.#line(this.#clients, kind, text);
  }

  /** Writes the summary of what was counted, if anything was, and stops. */
  close(): void {
    if (this.#closed) return;
    this.#summary();
    this.#closed = true;
  }

  #line(bucket: TokenBucket, kind: string, text: string): void {
    if (this.#closed) return;
    if (bucket.take()) {
      this.#safeWrite(`chat: ${clean(text)}`);
      return;
    }
    const key = this.#unwritten.has(kind) || this.#unwritten.size < MAX_KINDS ? clean(kind) : "other";
    this.#unwritten.set(key, (this.#unwritten.get(key) ?? 0) + 1);
    if (this.#timer === null) {
      this.#timer = setTimeout(() => this.#summary(), Math.max(0, this.#since + this.#every - Date.now()));
      this.#timer.unref();
    }
  }

  #summary(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const now = Date.now();
    if (this.#unwritten.size > 0) {
      let total = 0;
      const kinds: string[] = [];
      for (const [kind, count] of this.#unwritten) {
        total += count;
        kinds.push(`${kind}: ${count}`);
      }
      this.#unwritten.clear();
      this.#safeWrite(`chat: ${total} more not logged in the last ${((now - this.#since) / 1000).toFixed(1)} s (${kinds.join(", ")})`);
    }
    this.#since = now;
  }

  #safeWrite(line: string): void {
    try {
      this.#write(line);
    } catch {
      // A log that fails must not take the server with it.
    }
  }
}

/**
 * One line, without the control characters (line breaks included) or bidirectional controls that a client
 * could put in it to forge lines or reorder what a terminal shows.
 */
function clean(text: string): string {
  const line = text.replace(/[\p{Cc}\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/gu, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`);
  return line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)}…` : line;
}
