/**
 * The decoder: classifies any text in O(1) by its first four characters, then parses envelopes.
 * It never throws; every outcome is a tagged {@link Decoded} value.
 * @module
 */
import { MAX_ACK_ID, MAX_EVENT_NAME_LENGTH, MAX_NESTING } from "./constants.js";
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
  // JSON.parse is the only thing here that can throw; it stays alone in this function. Its SyntaxError is
  // thrown away, so it is made without a stack trace: a peer sending garbage costs no stack capture.
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return JSON.parse(json);
  } catch {
    return NOT_JSON;
  } finally {
    Error.stackTraceLimit = limit;
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
 * that starts like an envelope is `invalid` with a reason. An event name over {@link MAX_EVENT_NAME_LENGTH}
 * characters or an ack id over {@link MAX_ACK_ID} in an envelope longer than 512 characters is refused from
 * its first characters, without parsing the rest (docs/protocol.md section 4). Never throws.
 */
export function decode(text: unknown): Decoded {
  if (!isEnvelope(text)) return RAW;
  const envelope = text as string;
  if (envelope.charCodeAt(3) !== 0x31) return invalid("unsupported-version");
  // A message within the scan window costs little to parse whole; a longer one is looked at first.
  if (envelope.length > HEADER_SCAN) {
    const refused = refuseEarly(envelope);
    if (refused !== undefined) return refused;
  }
  // JSON.parse of deeply nested input costs far more than its length suggests (a 1 MiB "[[[[..." took
  // most of a second): the nesting is counted first, in one pass that stops at the limit.
  if (nestedDeeperThan(envelope, MAX_NESTING)) return invalid("too-deep", peekAckId(envelope));
  return decodeVersion1(envelope);
}

/**
 * True when the JSON text after the envelope prefix opens more than `max` arrays or objects inside each
 * other. Brackets inside strings do not count. Linear, and stops at the first level past `max`.
 */
export function nestedDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 4; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === BRACKET || c === 0x7b /* { */) {
      if (++depth > max) return true;
    } else if (c === CLOSE_BRACKET || c === 0x7d /* } */) {
      depth--;
    }
  }
  return false;
}

/**
 * {@link decode} without the refusal from the first characters: every version 1 envelope is parsed whole, with
 * the same outcome for valid JSON. For the browser client, whose bundle has no room for the header scan and
 * whose peer is the application's own server.
 */
export function decodeWhole(text: unknown): Decoded {
  if (!isEnvelope(text)) return RAW;
  const envelope = text as string;
  if (envelope.charCodeAt(3) !== 0x31) return invalid("unsupported-version");
  return decodeVersion1(envelope);
}

function decodeVersion1(envelope: string): Decoded {
  const value = parse(envelope.slice(4));
  if (value === NOT_JSON) return invalid("bad-json");
  if (!Array.isArray(value)) return invalid("bad-shape");
  const length = value.length;
  switch (value[0]) {
    // The name and the ack id are checked before the element count, in the order refuseEarly reads them,
    // so that an envelope refused from its start gets the reason a full parse would give it.
    case "e": {
      if (length < 2) return invalid("bad-shape");
      const name: unknown = value[1];
      if (!isEventName(name)) return invalid("bad-name");
      if (length > 3) return invalid("bad-shape");
      return { kind: "event", name, data: value[2], ackId: undefined };
    }
    case "c": {
      const ackId: unknown = value[1];
      if (!isAckId(ackId)) return invalid("bad-ack-id");
      if (length < 3) return invalid("bad-shape", ackId);
      const name: unknown = value[2];
      if (!isEventName(name)) return invalid("bad-name", ackId);
      if (length > 4) return invalid("bad-shape", ackId);
      return { kind: "event", name, data: value[3], ackId };
    }
    case "a": {
      const ackId: unknown = value[1];
      if (length < 2) return invalid("bad-shape");
      if (!isAckId(ackId)) return invalid("bad-ack-id");
      if (length > 3) return invalid("bad-shape");
      return { kind: "ack", ackId, result: value[2] };
    }
    case "x": {
      const ackId: unknown = value[1];
      const error: unknown = value[2];
      if (length < 2) return invalid("bad-shape");
      if (!isAckId(ackId)) return invalid("bad-ack-id");
      if (length !== 3) return invalid("bad-shape");
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

/** How far into an envelope {@link refuseEarly} reads at most. */
const HEADER_SCAN = 512;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/**
 * Refuses a version 1 envelope from its first characters, without parsing the rest: an event name longer
 * than {@link MAX_EVENT_NAME_LENGTH} (`bad-name`, with the call's id for a `c`) or an ack id over
 * {@link MAX_ACK_ID} (`bad-ack-id`), so that a large message with a bad header costs no parse. Reads at most
 * {@link HEADER_SCAN} characters and decides only what a full parse of valid JSON would decide too; anything
 * else (an escape in the name, a fraction or an exponent in the id...) is left to the parser: `undefined`.
 */
function refuseEarly(text: string): InvalidMessage | undefined {
  const end = Math.min(text.length, HEADER_SCAN);
  let i = skipSpace(text, 4, end);
  if (text.charCodeAt(i) !== BRACKET) return undefined;
  i = skipSpace(text, i + 1, end);
  if (text.charCodeAt(i) !== QUOTE || text.charCodeAt(i + 2) !== QUOTE) return undefined;
  const type = text.charCodeAt(i + 1);
  i = skipSpace(text, i + 3, end);
  if (text.charCodeAt(i) !== COMMA) return undefined;
  i = skipSpace(text, i + 1, end);
  if (type === 0x65 /* e */) return nameTooLong(text, i, end, undefined);
  if (type !== 0x63 /* c */ && type !== 0x61 /* a */ && type !== 0x78 /* x */) return undefined;
  const start = i;
  let id = 0;
  for (; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < ZERO || c > NINE) break;
    id = id * 10 + (c - ZERO);
  }
  const digits = i - start;
  i = skipSpace(text, i, end);
  // Only a plain integer followed by `,` or `]` is decided here.
  const next = text.charCodeAt(i);
  if (digits === 0 || i >= end || (next !== COMMA && next !== CLOSE_BRACKET)) return undefined;
  if (id > MAX_ACK_ID) return invalid("bad-ack-id");
  if (type !== 0x63 || next !== COMMA) return undefined;
  return nameTooLong(text, skipSpace(text, i + 1, end), end, id);
}

/** `bad-name` when the JSON string starting at `i` runs past the longest name, without an escape on the way. */
function nameTooLong(text: string, i: number, end: number, ackId: number | undefined): InvalidMessage | undefined {
  if (text.charCodeAt(i) !== QUOTE) return undefined;
  // The closing quote of the longest name is at `last`.
  const last = i + 1 + MAX_EVENT_NAME_LENGTH;
  for (let j = i + 1; j < end; j++) {
    const c = text.charCodeAt(j);
    if (c === QUOTE || c === BACKSLASH) return undefined;
    if (j >= last) return invalid("bad-name", ackId);
  }
  return undefined;
}

/** The type, call id and name at the start of an event envelope, read by {@link peekEventHead}. */
export interface EventHead {
  readonly name: string;
  readonly ackId: number | undefined;
}

/**
 * Reads the name (and, for a call, the id) at the start of a version 1 `e` or `c` envelope without parsing
 * the rest, so that a receiver can refuse an event it has no handler for before paying for its payload.
 * Looks at the first {@link HEADER_SCAN} characters; `undefined` when they do not hold a plain name (an
 * escape in it, an unusual id...), which leaves the decision to {@link decode}.
 */
export function peekEventHead(text: string): EventHead | undefined {
  const end = Math.min(text.length, HEADER_SCAN);
  if (!isEnvelope(text) || text.charCodeAt(3) !== 0x31) return undefined;
  let i = skipSpace(text, 4, end);
  if (text.charCodeAt(i) !== BRACKET) return undefined;
  i = skipSpace(text, i + 1, end);
  if (text.charCodeAt(i) !== QUOTE || text.charCodeAt(i + 2) !== QUOTE) return undefined;
  const type = text.charCodeAt(i + 1);
  if (type !== 0x65 /* e */ && type !== 0x63 /* c */) return undefined;
  i = skipSpace(text, i + 3, end);
  if (text.charCodeAt(i) !== COMMA) return undefined;
  i = skipSpace(text, i + 1, end);
  let ackId: number | undefined;
  if (type === 0x63) {
    ackId = peekAckId(text);
    if (ackId === undefined) return undefined;
    while (i < end && text.charCodeAt(i) !== COMMA) i++;
    i = skipSpace(text, i + 1, end);
  }
  if (text.charCodeAt(i) !== QUOTE) return undefined;
  const start = i + 1;
  for (let j = start; j < end && j - start <= MAX_EVENT_NAME_LENGTH; j++) {
    const c = text.charCodeAt(j);
    if (c === BACKSLASH) return undefined;
    if (c === QUOTE) {
      const name = text.slice(start, j);
      return isEventName(name) ? { name, ackId } : undefined;
    }
  }
  return undefined;
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
