/**
 * Fixed values of the wsmount events protocol, version 1. See docs/protocol.md.
 * @module
 */

/** Protocol version carried in every envelope prefix. */
export const PROTOCOL_VERSION = 1;

/**
 * The four characters every version 1 envelope starts with. A text message that starts with
 * `wsm` followed by an ASCII digit is always an envelope (of some version), never a raw message.
 */
export const ENVELOPE_PREFIX = "wsm1";

/** Longest event name, in characters (names are ASCII, so also in bytes): 128. */
export const MAX_EVENT_NAME_LENGTH = 128;

/**
 * Deepest nesting of arrays and objects in an envelope, the envelope's own array included: 64. A server
 * refuses deeper envelopes (`too-deep`) without parsing them.
 */
export const MAX_NESTING = 64;

/** Largest acknowledgement id: 2^31 - 1, so ids fit a signed 32-bit integer in every language. */
export const MAX_ACK_ID = 2_147_483_647;

/** Message types, the first element of every envelope array. */
export const MessageType = {
  /** Event, no answer wanted: `["e", name]` or `["e", name, data]`. */
  event: "e",
  /** Event that asks for an acknowledgement: `["c", ackId, name]` or `["c", ackId, name, data]`. */
  call: "c",
  /** Successful answer to a call: `["a", ackId]` or `["a", ackId, result]`. */
  ack: "a",
  /** Failed answer to a call: `["x", ackId, { message, code? }]`. */
  ackError: "x",
  /** Error notice about a message the peer sent: `["!", { code, message }]`. */
  error: "!",
  /** Server greeting carrying the connection id: `["w", { id }]`. */
  welcome: "w",
} as const;

/**
 * Error codes carried on the wire, in `x` (acknowledgement error) and `!` (error notice) messages.
 * Handlers may send codes of their own; these are the ones the protocol defines.
 */
export const WireErrorCode = {
  /** The message starts with the envelope prefix but is not a valid envelope. */
  invalidEnvelope: "ERR_WSMOUNT_INVALID_ENVELOPE",
  /** The envelope prefix names a protocol version the receiver does not speak. */
  unsupportedVersion: "ERR_WSMOUNT_UNSUPPORTED_VERSION",
  /** A call named an event that has no handler on the receiving side. */
  unknownEvent: "ERR_WSMOUNT_UNKNOWN_EVENT",
  /** The message is larger than the receiver accepts for events. */
  eventTooLarge: "ERR_WSMOUNT_EVENT_TOO_LARGE",
  /** The sender is over the receiver's rate limit; the message was dropped. */
  rateLimited: "ERR_WSMOUNT_RATE_LIMITED",
  /** The handler's result could not be encoded as JSON (a BigInt, a cycle...). */
  invalidResult: "ERR_WSMOUNT_INVALID_RESULT",
} as const;

/**
 * Codes of {@link AckError}: why an acknowledgement never arrived. Local to the emitter, never on the wire.
 */
export const AckErrorCode = {
  /** No answer within the acknowledgement timeout. */
  timeout: "ERR_WSMOUNT_ACK_TIMEOUT",
  /** The connection closed after the call was sent and before its answer arrived. */
  disconnected: "ERR_WSMOUNT_DISCONNECTED",
  /** The emitter was closed (or gave up reconnecting) before the call could be answered. */
  closed: "ERR_WSMOUNT_CLOSED",
  /** The call could not be queued: the offline queue is full or disabled. */
  queueFull: "ERR_WSMOUNT_QUEUE_FULL",
  /** Too many calls of this emitter already wait for their answers (`maxPendingAcks`); nothing was sent. */
  tooManyPending: "ERR_WSMOUNT_TOO_MANY_PENDING_ACKS",
} as const;
