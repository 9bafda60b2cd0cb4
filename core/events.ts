/**
 * Named events with acknowledgements on one connection (the events protocol, docs/protocol.md): the
 * handlers, the calls waiting for an answer, and what to do with each decoded envelope.
 * @module
 */
import { ErrorCode, WsmountError, peerError } from "./errors.js";
import { callGuarded, isThenable, whenSettled, type Failure } from "./guard.js";
import {
  AckError,
  AckErrorCode,
  RemoteError,
  WireErrorCode,
  decode,
  peekEventHead,
  encodeAck,
  encodeAckError,
  encodeError,
  encodeEvent,
  toErrorPayload,
  MAX_ACK_ID,
  type Decoded,
} from "./protocol/index.js";

/** A handler of a named event: gets the data, returns (or resolves to) the acknowledgement result. */
export type AnyEventHandler = (data: any) => unknown;

/** What the event state needs of its connection. */
export interface EventPeer {
  readonly id: string;
  /** Sends an encoded envelope; false when it could not be sent. */
  _sendText(text: string): boolean;
  /** Reports an error to the connection's and the endpoint's error handlers. */
  _error(error: Error): void;
}

interface Waiting {
  readonly event: string;
  readonly resolve: (result: unknown) => void;
  readonly reject: (error: Error) => void;
  timer: NodeJS.Timeout | null;
}

/** Events longer than this are looked at from their first characters before they are parsed. */
const PEEK_FROM = 512;

/** True when a received text frame (as bytes) starts with `wsm` and a digit: an envelope, not a raw message. */
export function isEnvelopeBytes(data: Buffer): boolean {
  return data.length >= 4 && data[0] === 0x77 && data[1] === 0x73 && data[2] === 0x6d && data[3]! >= 0x30 && data[3]! <= 0x39;
}

/** The default of the `maxPendingAcks` option: calls one connection may have waiting for answers. */
export const DEFAULT_MAX_PENDING_ACKS = 1000;

/** The events side of one connection, created on first use. */
export class EventState {
  readonly #handlers = new Map<string, AnyEventHandler[]>();
  // Made on the first emitWithAck: most connections never wait for an answer.
  #waiting: Map<number, Waiting> | null = null;
  #nextAckId = 0;
  readonly #maxPending: number;

  /** @param maxPendingAcks calls that may wait for an answer at once (the endpoint's `maxPendingAcks`) */
  constructor(maxPendingAcks = DEFAULT_MAX_PENDING_ACKS) {
    this.#maxPending = maxPendingAcks;
  }

  /** How many calls wait for their answers now. */
  get pending(): number {
    return this.#waiting?.size ?? 0;
  }

  /** Adds a handler for `event`; returns its remover. */
  on(event: string, handler: AnyEventHandler): () => void {
    const list = this.#handlers.get(event);
    if (list === undefined) this.#handlers.set(event, [handler]);
    else list.push(handler);
    return () => this.off(event, handler);
  }

  /** Removes one handler of `event`, or all of them. */
  off(event: string, handler?: AnyEventHandler): void {
    const list = this.#handlers.get(event);
    if (list === undefined) return;
    if (handler === undefined) {
      this.#handlers.delete(event);
      return;
    }
    const index = list.indexOf(handler);
    if (index !== -1) list.splice(index, 1);
    if (list.length === 0) this.#handlers.delete(event);
  }

  /** Sends `event` and waits for its answer up to `timeout` ms (0: until the connection closes). */
  call(peer: EventPeer, event: string, data: unknown, timeout: number): Promise<unknown> {
    if (this.pending >= this.#maxPending) {
      return Promise.reject(
        new AckError(event, AckErrorCode.tooManyPending, `wsmount: cannot emit "${event}" to ${peer.id}: ${this.#maxPending} calls already wait for an answer (maxPendingAcks)`),
      );
    }
    const ackId = this.#takeAckId();
    return new Promise((resolve, reject) => {
      const waiting: Waiting = { event, resolve, reject, timer: null };
      let text: string;
      try {
        text = encodeEvent(event, data, ackId);
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      if (!peer._sendText(text)) {
        reject(new AckError(event, AckErrorCode.disconnected, `wsmount: cannot emit "${event}": the connection is not open`));
        return;
      }
      if (timeout > 0) {
        waiting.timer = setTimeout(() => {
          this.#waiting?.delete(ackId);
          const error = new AckError(event, AckErrorCode.timeout, `wsmount: no acknowledgement for "${event}" within ${timeout} ms`);
          reject(error);
        }, timeout);
      }
      (this.#waiting ??= new Map()).set(ackId, waiting);
    });
  }

  /** Handles one envelope received as text. */
  receive(peer: EventPeer, text: string): void {
    // A long event for which nothing listens is refused from its first characters, unparsed.
    if (text.length > PEEK_FROM) {
      const head = peekEventHead(text);
      if (head !== undefined && !this.#handlers.has(head.name)) {
        this.#unknown(peer, head.name, head.ackId);
        return;
      }
    }
    const message: Decoded = decode(text);
    switch (message.kind) {
      case "event":
        this.#dispatch(peer, message.name, message.data, message.ackId);
        return;
      case "ack":
      case "ackError": {
        const waiting = this.#waiting?.get(message.ackId);
        // An answer nobody waits for (late, or unknown) is ignored (docs/protocol.md section 5).
        if (waiting === undefined) return;
        this.#waiting!.delete(message.ackId);
        if (waiting.timer !== null) clearTimeout(waiting.timer);
        if (message.kind === "ack") waiting.resolve(message.result);
        else waiting.reject(new RemoteError(waiting.event, message.error.message, message.error.code));
        return;
      }
      case "error":
        peer._error(peerError(ErrorCode.PROTOCOL_NOTICE, `wsmount: the client reported ${message.code}: ${message.message}`));
        return;
      case "invalid": {
        const unsupported = message.reason === "unsupported-version";
        const code = unsupported ? WireErrorCode.unsupportedVersion : WireErrorCode.invalidEnvelope;
        if (message.ackId !== undefined && !unsupported) peer._sendText(encodeAckError(message.ackId, { message: message.reason, code }));
        else peer._sendText(encodeError(code, message.reason));
        peer._error(peerError(ErrorCode.INVALID_ENVELOPE, `wsmount: invalid envelope from ${peer.id} (${message.reason})`));
        return;
      }
      default:
        // "welcome" is server-to-client only; "raw" cannot reach here (the prefix was checked).
        return;
    }
  }

  /** Rejects every call still waiting: the connection closed. */
  closed(): void {
    const all = this.#waiting;
    if (all === null) return;
    for (const [ackId, waiting] of all) {
      all.delete(ackId);
      if (waiting.timer !== null) clearTimeout(waiting.timer);
      waiting.reject(new AckError(waiting.event, AckErrorCode.disconnected, `wsmount: the connection closed before "${waiting.event}" was acknowledged`));
    }
  }

  /** An event nothing handles: dropped, or for a call answered `x` with the unknown-event code. */
  #unknown(peer: EventPeer, event: string, ackId: number | undefined): void {
    if (ackId === undefined) return;
    peer._sendText(encodeAckError(ackId, { message: `no handler for "${event}"`, code: WireErrorCode.unknownEvent }));
    peer._error(peerError(ErrorCode.UNKNOWN_EVENT, `wsmount: ${peer.id} called "${event}", which has no handler`));
  }

  #dispatch(peer: EventPeer, event: string, data: unknown, ackId: number | undefined): void {
    const handlers = this.#handlers.get(event);
    if (handlers === undefined || handlers.length === 0) {
      this.#unknown(peer, event, ackId);
      return;
    }
    // The first handler's result is the answer; further handlers only listen. Later handlers are those
    // of this moment: a handler that adds or removes handlers changes the next dispatch, not this one.
    const first = handlers[0]!;
    const listeners = handlers.length > 1 ? handlers.slice(1) : null;
    if (ackId === undefined) {
      const failed: Failure = (error) => peer._error(handlerError(peer, event, error));
      callGuarded(failed, first, data);
      if (listeners !== null) for (const listener of listeners) callGuarded(failed, listener, data);
      return;
    }
    // A throw or a rejection of the first handler is answered with `x` and reported, once.
    let threw = false;
    const result = callGuarded(
      (error) => {
        threw = true;
        this.#failed(peer, event, ackId, error);
      },
      first,
      data,
    );
    if (listeners !== null) {
      const failed: Failure = (error) => peer._error(handlerError(peer, event, error));
      for (const listener of listeners) callGuarded(failed, listener, data);
    }
    if (threw) return;
    if (!isThenable(result)) {
      answer(peer, event, ackId, result);
      return;
    }
    // The rejection was handled above; the value is answered here, and a fault in answering is reported.
    whenSettled(result, (value) => answer(peer, event, ackId, value), ignore, (error) => peer._error(handlerError(peer, event, error)));
  }

  #failed(peer: EventPeer, event: string, ackId: number, error: unknown): void {
    // The client gets the message and code only, never the server's stack (docs/protocol.md section 5).
    peer._sendText(encodeAckError(ackId, toErrorPayload(error)));
    peer._error(handlerError(peer, event, error));
  }

  #takeAckId(): number {
    // Count up, wrap after 2^31 - 1, skip ids still waiting.
    do {
      this.#nextAckId = this.#nextAckId >= MAX_ACK_ID ? 0 : this.#nextAckId + 1;
    } while (this.#waiting?.has(this.#nextAckId) === true);
    return this.#nextAckId;
  }
}

function ignore(): void {}

function answer(peer: EventPeer, event: string, ackId: number | undefined, result: unknown): void {
  if (ackId === undefined) return;
  let text: string;
  try {
    text = encodeAck(ackId, result);
  } catch (error) {
    peer._sendText(encodeAckError(ackId, { message: "the result cannot be encoded as JSON", code: WireErrorCode.invalidResult }));
    peer._error(handlerError(peer, event, error));
    return;
  }
  peer._sendText(text);
}

function handlerError(peer: EventPeer, event: string, error: unknown): WsmountError {
  const message = error instanceof Error ? error.message : String(error);
  return new WsmountError(ErrorCode.HANDLER_FAILED, `wsmount: the "${event}" handler of connection ${peer.id} failed: ${message}`, { cause: error });
}
