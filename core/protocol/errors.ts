/**
 * Errors an emitter sees, shared by server and client (no platform imports).
 * @module
 */

/**
 * The peer's handler failed: the call was answered with an `x` message. `message` and `code` are exactly what
 * the peer sent (`code` may be absent); no remote stack ever crosses the wire.
 */
export class RemoteError extends Error {
  /** The code the peer sent, e.g. `ERR_WSMOUNT_UNKNOWN_EVENT` or one of the application's own. */
  readonly code: string | undefined;
  /** The event whose call failed. */
  readonly event: string;

  constructor(event: string, message: string, code: string | undefined) {
    super(message);
    this.name = "RemoteError";
    this.event = event;
    this.code = code;
  }
}

/**
 * An acknowledgement that never came, for a local reason: `code` is one of {@link AckErrorCode}'s values
 * (`ERR_WSMOUNT_ACK_TIMEOUT`, `ERR_WSMOUNT_DISCONNECTED`, `ERR_WSMOUNT_CLOSED`, `ERR_WSMOUNT_QUEUE_FULL`).
 */
export class AckError extends Error {
  /** Why the acknowledgement failed. */
  readonly code: string;
  /** The event whose acknowledgement failed. */
  readonly event: string;

  constructor(event: string, code: string, message: string) {
    super(message);
    this.name = "AckError";
    this.event = event;
    this.code = code;
  }
}

/**
 * A protocol problem: the peer sent an error notice (`!`) about one of our messages (`code` is the peer's, e.g.
 * `ERR_WSMOUNT_INVALID_ENVELOPE`), or the peer sent us something that is not a valid envelope.
 */
export class ProtocolError extends Error {
  /** A stable code, e.g. `ERR_WSMOUNT_INVALID_ENVELOPE`. */
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = "ProtocolError";
    this.code = code;
  }
}
