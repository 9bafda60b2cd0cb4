/**
 * Types shared by the server and the client: JSON values, typed event maps and decoded messages.
 * @module
 */

/** A value the protocol can carry as event data or acknowledgement result. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * Describes the events one side receives (and the other side sends): each key is an event name, each value
 * the signature of its handler. The parameter is the event data (leave it out for events without data); the
 * return type is the acknowledgement result (`void` when the event is not meant to be acknowledged).
 *
 * Data and results travel as JSON: use JSON-compatible types (no `Date`, `Map`, `bigint`, functions).
 * (The constraint's values are `any` so that interfaces qualify; a value that is not a function signature makes
 * its event unusable, as its argument list is `never`.)
 *
 * @example
 * ```ts
 * interface ClientEvents {            // sent by clients, handled by the server
 *   "chat:send": (msg: { room: string; text: string }) => void;
 *   "rooms:join": (room: string) => { members: number };   // acknowledged with a result
 *   "ping": () => "pong";                                   // no data
 * }
 * ```
 */
export type EventMap = { [event: string]: any };

/** The map used when none is given: any event name, any data, any result. */
export type DefaultEventMap = { [event: string]: (data?: any) => any };

/** The event names of a map. */
export type EventNames<M> = keyof M & string;

/** The argument list of an event: `[]` (no data), `[data]` or `[data?]`. */
export type EventArgs<M, K extends EventNames<M>> = M[K] extends (...args: infer A) => unknown ? A : never;

/** The data type of an event (`undefined` for events without data). */
export type EventData<M, K extends EventNames<M>> = EventArgs<M, K> extends [] ? undefined : EventArgs<M, K>[0];

/** The acknowledgement result type of an event (promises unwrapped). */
export type AckResult<M, K extends EventNames<M>> = M[K] extends (...args: any[]) => infer R ? Awaited<R> : never;

/** A handler for event `K` of map `M`: receives the data, returns (or resolves to) the acknowledgement result. */
export type EventHandler<M, K extends EventNames<M>> = M[K] extends (...args: infer A) => infer R
  ? (...args: A) => Awaited<R> | PromiseLike<Awaited<R>>
  : never;

/** Options of one acknowledged emit. */
export interface AckOptions {
  /** Milliseconds to wait for the answer; `0` waits until the connection closes. Default: the emitter's own. */
  timeout?: number;
}

/** The argument list after the event name of an acknowledged emit: the data (if any), then options. */
export type AckArgs<M, K extends EventNames<M>> =
  EventArgs<M, K> extends [] ? [data?: undefined, options?: AckOptions] : [...EventArgs<M, K>, options?: AckOptions];

/** The error carried by an `x` message: a message and an optional stable code. Never a stack. */
export interface ErrorPayload {
  message: string;
  code?: string | undefined;
}

/** Why {@link decode} rejected an envelope. */
export type InvalidReason =
  | "bad-json"
  | "bad-shape"
  | "unknown-type"
  | "bad-name"
  | "bad-ack-id"
  | "too-deep"
  | "unsupported-version";

/** A message that is not an envelope: deliver the original text (or binary data) to raw listeners. */
export interface RawMessage {
  readonly kind: "raw";
}

/** An event; `ackId` is set when the sender asks for an acknowledgement. */
export interface EventMessage {
  readonly kind: "event";
  readonly name: string;
  /** The event data; `undefined` when the envelope carries none. */
  readonly data: JsonValue | undefined;
  readonly ackId: number | undefined;
}

/** A successful answer to a call. */
export interface AckMessage {
  readonly kind: "ack";
  readonly ackId: number;
  /** The result; `undefined` when the envelope carries none. */
  readonly result: JsonValue | undefined;
}

/** A failed answer to a call. */
export interface AckErrorMessage {
  readonly kind: "ackError";
  readonly ackId: number;
  readonly error: { readonly message: string; readonly code: string | undefined };
}

/** An error notice from the peer about a message it received from us. */
export interface ErrorMessage {
  readonly kind: "error";
  readonly code: string;
  readonly message: string;
}

/** The server's greeting: the id of this connection. */
export interface WelcomeMessage {
  readonly kind: "welcome";
  readonly id: string;
}

/**
 * A message that starts like an envelope but is not a valid one. `ackId` is set when the message is a call
 * whose ack id could be read: answer it with an `x` so the emitter does not wait for its timeout.
 */
export interface InvalidMessage {
  readonly kind: "invalid";
  readonly reason: InvalidReason;
  readonly ackId: number | undefined;
}

/** What {@link decode} returns: a tagged result, never an exception. */
export type Decoded =
  | RawMessage
  | EventMessage
  | AckMessage
  | AckErrorMessage
  | ErrorMessage
  | WelcomeMessage
  | InvalidMessage;
