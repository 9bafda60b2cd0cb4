/**
 * Rate limits and per-address accounting for the chat server.
 * @module
 */
import type { Rate } from "./shared/events.js";

/**
 * A token bucket: up to `burst` at once, then one more every `every` ms. Refilled lazily when asked, so it
 * costs two numbers and no timer.
 */
export class TokenBucket {
  readonly #burst: number;
  readonly #every: number;
  #tokens: number;
  #at: number;
  /** Whether the sender was told that this bucket ran dry since it last let something through. */
  noticed = false;

  constructor({ burst, every }: Rate, now = Date.now()) {
    this.#burst = burst;
    this.#every = every;
    this.#tokens = burst;
    this.#at = now;
  }

  /** Takes a token if there is one. */
  take(now = Date.now()): boolean {
    this.#refill(now);
    if (this.#tokens < 1) return false;
    this.#tokens--;
    this.noticed = false;
    return true;
  }

  /** Ms until a token is there (0: now). */
  retryIn(now = Date.now()): number {
    this.#refill(now);
    return this.#tokens >= 1 ? 0 : Math.ceil((1 - this.#tokens) * this.#every);
  }

  /** Whether the bucket is full: it holds nothing worth keeping. */
  full(now = Date.now()): boolean {
    this.#refill(now);
    return this.#tokens >= this.#burst;
  }

  #refill(now: number): void {
    if (now <= this.#at) return;
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#at) / this.#every);
    this.#at = now;
  }
}

interface Address {
  /** People named from this address now. */
  users: number;
  hellos: TokenBucket;
}

/**
 * What each IP address holds: how many people are named from it, and how fast it names new ones. An
 * address is forgotten once it has nobody and its bucket is full again, so the book holds at most the
 * addresses of the people online plus those active in the last minute or so.
 */
export class AddressBook {
  readonly #addresses = new Map<string, Address>();
  readonly #maxUsers: number;
  readonly #hello: Rate;
  readonly #timer: NodeJS.Timeout;

  constructor(options: { usersPerAddress: number; helloPerAddress: Rate; sweepEvery?: number }) {
    this.#maxUsers = options.usersPerAddress;
    this.#hello = options.helloPerAddress;
    this.#timer = setInterval(() => this.#sweep(), options.sweepEvery ?? 30_000);
    this.#timer.unref();
  }

  /**
   * Names one more person from `address`: `"ok"`, or why not (`"full"`: the address has its share of
   * people; `"rate"`: it names people too fast).
   */
  admit(address: string): "ok" | "full" | "rate" {
    let entry = this.#addresses.get(address);
    if (entry === undefined) this.#addresses.set(address, (entry = { users: 0, hellos: new TokenBucket(this.#hello) }));
    if (entry.users >= this.#maxUsers) return "full";
    if (!entry.hellos.take()) return "rate";
    entry.users++;
    return "ok";
  }

  /** A person named from `address` is gone. */
  release(address: string): void {
    const entry = this.#addresses.get(address);
    if (entry !== undefined && entry.users > 0) entry.users--;
  }

  /** Addresses in the book (for tests and stats). */
  get size(): number {
    return this.#addresses.size;
  }

  close(): void {
    clearInterval(this.#timer);
  }

  #sweep(): void {
    const now = Date.now();
    for (const [address, entry] of this.#addresses) if (entry.users === 0 && entry.hellos.full(now)) this.#addresses.delete(address);
  }
}
