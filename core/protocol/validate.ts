/**
 * Char-level checks for event names and acknowledgement ids: no regular expressions, no allocation.
 * @module
 */
import { MAX_ACK_ID, MAX_EVENT_NAME_LENGTH } from "./constants.js";

/**
 * Whether `name` is a valid event name: 1 to {@link MAX_EVENT_NAME_LENGTH} characters, each printable ASCII
 * (0x21 to 0x7E) other than `"` (0x22) and `\` (0x5C). Such names never need escaping in JSON or in logs.
 */
export function isEventName(name: unknown): name is string {
  if (typeof name !== "string") return false;
  const length = name.length;
  if (length === 0 || length > MAX_EVENT_NAME_LENGTH) return false;
  for (let i = 0; i < length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x21 || c > 0x7e || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}

/** Whether `id` is a valid acknowledgement id: an integer from 0 to {@link MAX_ACK_ID}. */
export function isAckId(id: unknown): id is number {
  // `(id | 0) === id` holds exactly for the integers of the signed 32-bit range.
  return typeof id === "number" && (id | 0) === id && id >= 0 && id <= MAX_ACK_ID;
}
