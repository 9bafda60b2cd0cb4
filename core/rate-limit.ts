/**
 * Per-connection rate limits on what a peer sends: a token bucket of messages and one of bytes, refilled
 * continuously over `interval`. A connection's bucket is made on its first message.
 * @module
 */

/** The `rateLimit` option. */
export interface RateLimitOptions {
  /** Messages a connection may send per `interval` (the bucket's size: bursts up to it pass). @defaultValue Infinity */
  messages?: number;
  /** Bytes (payload) a connection may send per `interval`. @defaultValue Infinity */
  bytes?: number;
  /** The refill period in milliseconds. @defaultValue 1000 */
  interval?: number;
  /**
   * Past the limit: `"drop"` the message (counted in `stats().messagesRateLimited`; a call is answered
   * `x` with `ERR_WSMOUNT_RATE_LIMITED`, other events get one `!` notice per interval), or `"close"` the
   * connection with 1008. @defaultValue "drop"
   */
  policy?: "drop" | "close";
}

export type ResolvedRateLimit = Readonly<Required<RateLimitOptions>>;

/** One connection's buckets. */
export interface Bucket {
  messages: number;
  bytes: number;
  /** When the buckets were last refilled. */
  at: number;
  /** When the last notice of a dropped message was sent (one per interval). */
  noticeAt: number;
}

/** A full bucket, as a new connection starts with. */
export function newBucket(limit: ResolvedRateLimit, now: number): Bucket {
  return { messages: limit.messages, bytes: limit.bytes, at: now, noticeAt: -Infinity };
}

/** Takes one message of `size` bytes from `bucket`; false when either bucket is short (nothing is taken then). */
export function take(limit: ResolvedRateLimit, bucket: Bucket, size: number, now: number): boolean {
  const elapsed = now - bucket.at;
  if (elapsed > 0) {
    const share = elapsed / limit.interval;
    bucket.messages = Math.min(limit.messages, bucket.messages + share * limit.messages);
    bucket.bytes = Math.min(limit.bytes, bucket.bytes + share * limit.bytes);
    bucket.at = now;
  }
  if (bucket.messages < 1 || bucket.bytes < size) return false;
  bucket.messages -= 1;
  bucket.bytes -= size;
  return true;
}
