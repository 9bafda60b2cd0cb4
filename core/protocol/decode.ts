/**
 * The decoder: classifies any text in O(1) by its first four characters, then parses envelopes.
 * It never throws; every outcome is a tagged {@link Decoded} value.
 * @module
 */
import { MAX_ACK_ID } from "./constants.js";
import type { Decoded, InvalidMessage, InvalidReason, RawMessage } from "./types.js";
import { isAckId, isEventName } from "./validate.js";

/** The one result object for raw messages: the raw path allocates nothing. */
const RAW: RawMessage = Object.freeze({ kind: "raw" });

const NOT_JSON: unique symbol = Symbol("not JSON");

const W = 0x77; // "w"
const S = 0x73; // "s"
const M = 0x6d; // "m"
const ZERO = 0x30;
const NINE = 0x39;

function invalid(reason: InvalidReason, ackId?: number): InvalidMessage {
  return { kind: "invalid", reason, ackId };
}

function parse(json: string): unknown {
  // JSON.parse is the only thing here that can throw; it stays alone in this function.
  try {
    return JSON.parse(json);
  } catch {
    return NOT_JSON;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Whether the text is an envelope of any version, i.e. starts with `wsm` and an ASCII digit. O(1).
 * Binary data (anything not a string) is never an envelope.
 */
export function isEnvelope(text: unknown): boolean {
  if (typeof text !== "string" || text.length < 4) return false;
  const v = text.charCodeAt(3);
  return text.charCodeAt(0) === W && text.charCodeAt(1) === S && text.charCodeAt(2) === M && v >= ZERO && v <= NINE;
}

/**
 * Decodes one received message. Anything not a string (binary data) and any text not starting with `wsm` plus a
 * digit is `raw`. Envelopes of version 1 become `event`, `ack`, `ackError`, `error` or `welcome`; anything else
 * that starts like an envelope is `invalid` with a reason. Never throws.
 */
export function decode(text: unknown): Decoded {
  if (!isEnvelope(text)) return RAW;
  const envelope = text as string;
  if (envelope.charCodeAt(3) !== 0x31) return invalid("unsupported-version");
  const value = parse(envelope.slice(4));
  if (value === NOT_JSON) return invalid("bad-json");
  if (!Array.isArray(value)) return invalid("bad-shape");
  const length = value.length;
  switch (value[0]) {
    case "e": {
      if (length < 2 || length > 3) return invalid("bad-shape");
      const name: unknown = value[1];
      if (!isEventName(name)) return invalid("bad-name");
      return { kind: "event", name, data: value[2], ackId: undefined };
    }
    case "c": {
      const ackId: unknown = value[1];
      if (!isAckId(ackId)) return invalid("bad-ack-id");
      if (length < 3 || length > 4) return invalid("bad-shape", ackId);
      const name: unknown = value[2];
      if (!isEventName(name)) return invalid("bad-name", ackId);
      return { kind: "event", name, data: value[3], ackId };
    }
    case "a": {
      const ackId: unknown = value[1];
      if (length < 2 || length > 3) return invalid("bad-shape");
      if (!isAckId(ackId)) return invalid("bad-ack-id");
      return { kind: "ack", ackId, result: value[2] };
    }
    case "x": {
      const ackId: unknown = value[1];
      const error: unknown = value[2];
      if (length !== 3) return invalid("bad-shape");
      if (!isAckId(ackId)) return invalid("bad-ack-id");
      if (!isPlainObject(error) || typeof error.message !== "string") return invalid("bad-shape");
      const code = error.code;
      if (code !== undefined && typeof code !== "string") return invalid("bad-shape");
      return { kind: "ackError", ackId, error: { message: error.message, code } };
    }
    case "!": {
      const notice: unknown = value[1];
      if (length !== 2 || !isPlainObject(notice)) return invalid("bad-shape");
      const { code, message } = notice;
      if (typeof code !== "string" || typeof message !== "string") return invalid("bad-shape");
      return { kind: "error", code, message };
    }
    case "w": {
      const welcome: unknown = value[1];
      if (length !== 2 || !isPlainObject(welcome) || typeof welcome.id !== "string") return invalid("bad-shape");
      return { kind: "welcome", id: welcome.id };
    }
    default:
      return invalid(typeof value[0] === "string" ? "unknown-type" : "bad-shape");
  }
}

const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;

function skipSpace(text: string, i: number, end: number): number {
  while (i < end) {
    const c = text.charCodeAt(i);
    if (c !== SPACE && c !== TAB && c !== LF && c !== CR) break;
    i++;
  }
  return i;
}

/**
 * Reads the ack id of a version 1 call (`wsm1["c",<id>,...`) from the start of a message without parsing the
 * rest, for answering a call that is refused unparsed (too large, for example) with an `x` instead of leaving
 * its emitter to time out. Looks at the first 256 characters at most, so a prefix of a huge message is enough.
 * Returns `undefined` when the text does not start like a call with a valid id.
 */
export function peekAckId(text: string): number | undefined {
  const end = Math.min(text.length, 256);
  if (end < 4 || text.charCodeAt(0) !== W || text.charCodeAt(1) !== S) return undefined;
  if (text.charCodeAt(2) !== M || text.charCodeAt(3) !== 0x31) return undefined;
  let i = skipSpace(text, 4, end);
  if (text.charCodeAt(i) !== 0x5b /* [ */) return undefined;
  i = skipSpace(text, i + 1, end);
  if (text.charCodeAt(i) !== 0x22 || text.charCodeAt(i + 1) !== 0x63 || text.charCodeAt(i + 2) !== 0x22) {
    return undefined; // not "c"
  }
  i = skipSpace(text, i + 3, end);
  if (text.charCodeAt(i) !== 0x2c /* , */) return undefined;
  i = skipSpace(text, i + 1, end);
  let id = 0;
  let digits = 0;
  for (; i < end; i++, digits++) {
    const c = text.charCodeAt(i);
    if (c < ZERO || c > NINE) break;
    id = id * 10 + (c - ZERO);
    if (id > MAX_ACK_ID) return undefined;
  }
  if (digits === 0 || i >= end) return undefined;
  // The number must end where JSON says it ends: whitespace or a comma (a fraction or exponent is not accepted).
  const next = text.charCodeAt(skipSpace(text, i, end));
  return next === 0x2c || next === 0x5d ? id : undefined;
}
