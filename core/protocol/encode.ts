/**
 * Encoders: each returns the complete text frame. None of them adds a per-recipient field, so a broadcast
 * encodes once and sends the same string to every recipient.
 * @module
 */
import { ENVELOPE_PREFIX, MAX_ACK_ID, MAX_EVENT_NAME_LENGTH } from "./constants.js";
import type { ErrorPayload } from "./types.js";
import { isAckId, isEventName } from "./validate.js";

function checkName(name: string): void {
  if (!isEventName(name)) {
    throw new TypeError(
      `Invalid event name ${JSON.stringify(String(name)).slice(0, 140)}: use 1 to ${MAX_EVENT_NAME_LENGTH} ` +
        "printable ASCII characters other than '\"' and '\\'",
    );
  }
}

function checkAckId(ackId: number): void {
  if (!isAckId(ackId)) throw new TypeError(`Invalid ack id ${String(ackId)}: use an integer from 0 to ${MAX_ACK_ID}`);
}

/**
 * Encodes an event. With `ackId` it is a call: the receiver answers with {@link encodeAck} or
 * {@link encodeAckError}. Data goes through `JSON.stringify` (so `toJSON` applies and `undefined`, functions and
 * symbols mean "no data").
 *
 * The same `ackId` may be used for one call sent to many connections (ids only need to be unique among the
 * emitter's outstanding calls on each connection), so a broadcast call is also encoded once.
 *
 * @throws TypeError when the name or the ack id is invalid, or when `JSON.stringify` throws (BigInt, cycles).
 */
export function encodeEvent(name: string, data?: unknown, ackId?: number): string {
  checkName(name);
  const json = data === undefined ? undefined : JSON.stringify(data);
  if (ackId === undefined) {
    return json === undefined ? `${ENVELOPE_PREFIX}["e","${name}"]` : `${ENVELOPE_PREFIX}["e","${name}",${json}]`;
  }
  checkAckId(ackId);
  return json === undefined
    ? `${ENVELOPE_PREFIX}["c",${ackId},"${name}"]`
    : `${ENVELOPE_PREFIX}["c",${ackId},"${name}",${json}]`;
}

/**
 * Encodes the successful answer to call `ackId`; `result` `undefined` sends no result.
 * @throws TypeError when the ack id is invalid or `JSON.stringify(result)` throws.
 */
export function encodeAck(ackId: number, result?: unknown): string {
  checkAckId(ackId);
  const json = result === undefined ? undefined : JSON.stringify(result);
  return json === undefined ? `${ENVELOPE_PREFIX}["a",${ackId}]` : `${ENVELOPE_PREFIX}["a",${ackId},${json}]`;
}

/**
 * Encodes the failed answer to call `ackId`. Only `message` and a string `code` are sent: never a stack or
 * other properties of an `Error` passed here.
 * @throws TypeError when the ack id is invalid.
 */
export function encodeAckError(ackId: number, error: ErrorPayload): string {
  checkAckId(ackId);
  const code = error.code;
  const payload =
    typeof code === "string" ? { message: String(error.message), code } : { message: String(error.message) };
  return `${ENVELOPE_PREFIX}["x",${ackId},${JSON.stringify(payload)}]`;
}

/** Encodes an error notice (`!`) telling the peer that a message it sent was refused. */
export function encodeError(code: string, message: string): string {
  return `${ENVELOPE_PREFIX}["!",${JSON.stringify({ code: String(code), message: String(message) })}]`;
}

/** Encodes the server's greeting that tells a client its connection id. */
export function encodeWelcome(id: string): string {
  return `${ENVELOPE_PREFIX}["w",${JSON.stringify({ id: String(id) })}]`;
}

/**
 * Turns anything a handler threw into the payload of an `x` message: an `Error`'s (or error-like object's)
 * `message` and string `code`; any other value becomes the message. Never includes a stack.
 */
export function toErrorPayload(thrown: unknown): ErrorPayload {
  if (typeof thrown === "object" && thrown !== null) {
    const { message, code } = thrown as { message?: unknown; code?: unknown };
    const text = typeof message === "string" ? message : "Error";
    return typeof code === "string" ? { message: text, code } : { message: text };
  }
  return { message: String(thrown) };
}
