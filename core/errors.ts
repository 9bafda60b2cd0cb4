/**
 * Error classes with stable `code`s. Errors raised by `ws` itself (protocol violations such as
 * `WS_ERR_INVALID_UTF8`) are passed through unchanged with their own codes.
 * @module
 */

/** Stable error codes used by wsmount. */
export const ErrorCode = {
  /** An option has a wrong type or value (thrown as a `TypeError`). */
  INVALID_OPTION: "ERR_WSMOUNT_INVALID_OPTION",
  /** A handshake was refused; `status` says how. */
  HANDSHAKE_REJECTED: "ERR_WSMOUNT_HANDSHAKE_REJECTED",
  /** An upgrade request reached a WebSocket route on a server the endpoint is not attached to. */
  NOT_ATTACHED: "ERR_WSMOUNT_NOT_ATTACHED",
  /** A user callback (connection handler, `authenticate`, message handler...) threw or rejected. */
  HANDLER_FAILED: "ERR_WSMOUNT_HANDLER_FAILED",
  /** No pong arrived within `pongTimeout` after a ping. */
  PONG_TIMEOUT: "ERR_WSMOUNT_PONG_TIMEOUT",
  /** No message arrived within `idleTimeout`. */
  IDLE_TIMEOUT: "ERR_WSMOUNT_IDLE_TIMEOUT",
  /** Queued data made no progress towards the socket within `writeTimeout`. */
  WRITE_TIMEOUT: "ERR_WSMOUNT_WRITE_TIMEOUT",
  /** The connection's buffered amount exceeded `maxBufferedAmount`. */
  BACKPRESSURE: "ERR_WSMOUNT_BACKPRESSURE",
  /** Early messages exceeded `readBufferSize` while the connection handler was still running. */
  READ_BUFFER_FULL: "ERR_WSMOUNT_READ_BUFFER_FULL",
  /** An operation needs an open connection. */
  NOT_OPEN: "ERR_WSMOUNT_NOT_OPEN",
  /** A client sent a message that starts like an event envelope but is not a valid one. */
  INVALID_ENVELOPE: "ERR_WSMOUNT_INVALID_ENVELOPE",
  /** A client called (asked an acknowledgement for) an event that has no handler. */
  UNKNOWN_EVENT: "ERR_WSMOUNT_UNKNOWN_EVENT",
  /** The broker failed to connect, publish or deliver; local delivery goes on. */
  BROKER: "ERR_WSMOUNT_BROKER",
  /**
   * A fault outside the application's handlers while serving an upgrade: the framework's request
   * handler threw, or a Node or `ws` internal failed. The upgrade ends with a 500 or a closed socket.
   */
  INTERNAL: "ERR_WSMOUNT_INTERNAL",
  /** A connection sent more than the `rateLimit` option allows. */
  RATE_LIMITED: "ERR_WSMOUNT_RATE_LIMITED",
  /** The process's outgoing buffers passed the memory budget; the largest consumers are closed 1013. */
  MEMORY_BUDGET: "ERR_WSMOUNT_MEMORY_BUDGET",
  /** A client sent an error notice about a message the server sent. */
  PROTOCOL_NOTICE: "ERR_WSMOUNT_PROTOCOL_NOTICE",
} as const;

/** One of the {@link ErrorCode} values. */
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Base class of the errors wsmount raises (other than option errors, which are `TypeError`s). */
export class WsmountError extends Error {
  /** A stable, documented code (`ERR_WSMOUNT_*`). */
  readonly code: ErrorCodeValue;

  constructor(code: ErrorCodeValue, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "WsmountError";
    this.code = code;
  }
}

/**
 * An error a peer caused (an invalid envelope, a call of an unknown event...), made without a stack trace:
 * its stack would show only wsmount's own frames, and a peer that sends garbage must not cost a stack
 * capture per message.
 */
export function peerError(code: ErrorCodeValue, message: string): WsmountError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new WsmountError(code, message);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** Thrown when an option is invalid; names the option and the value it got. */
export class InvalidOptionError extends TypeError {
  readonly code = ErrorCode.INVALID_OPTION;
  /** The option's name, e.g. `pingInterval` or `compression.level`. */
  readonly option: string;

  constructor(option: string, expected: string, value: unknown) {
    super(`wsmount: option "${option}" must be ${expected}; got ${describe(value)}`);
    this.name = "TypeError";
    this.option = option;
  }
}

/** The parts of an HTTP response that refuses a WebSocket handshake. */
export interface RejectionInit {
  /** Extra response headers, e.g. `{ "WWW-Authenticate": "Bearer" }`. */
  headers?: Record<string, string | readonly string[]>;
  /** The response body; a string is sent as `text/plain; charset=utf-8` unless `Content-Type` is set. */
  body?: string | Uint8Array;
}

/**
 * Refuses a handshake with a real HTTP response. Throw it (or return it) from `authenticate`
 * to answer, for instance, `401` with a `WWW-Authenticate` header and a body the client can read.
 */
export class HandshakeRejection extends WsmountError {
  /** The HTTP status code (400-599). */
  readonly status: number;
  readonly headers: Record<string, string | readonly string[]>;
  readonly body: string | Uint8Array;

  constructor(status: number, init: RejectionInit = {}) {
    if (!Number.isInteger(status) || status < 400 || status > 599) {
      throw new InvalidOptionError("status", "an HTTP error status (400-599)", status);
    }
    const body = init.body ?? "";
    super(ErrorCode.HANDSHAKE_REJECTED, `handshake rejected with ${status}${typeof body === "string" && body ? `: ${body}` : ""}`);
    this.name = "HandshakeRejection";
    this.status = status;
    this.headers = init.headers ?? {};
    this.body = body;
  }
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "function") return "a function";
  if (Array.isArray(value)) return "an array";
  if (value === null) return "null";
  if (typeof value === "object") return "an object";
  return String(value);
}
