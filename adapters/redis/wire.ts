/**
 * What the Redis broker writes on its channels. Every message is binary, signed, and names its sender:
 *
 * ```
 * byte 0        format version (2)
 * bytes 1-4     key id (uint32, big-endian; 0: unsigned)
 * byte 5        kind: "p" publication, "l" a process leaving, "q" request, "a" answer
 * bytes 6-17    the sending process's id (12 characters, base64url)
 * then          a JSON array (the header), and for a publication a newline and the payload bytes as
 *               they are (text as UTF-8, no base64, no escaping)
 * last 32 bytes HMAC-SHA256 of the channel's name and everything before it (absent when unsigned)
 * ```
 *
 * Headers: publication `[seq, time, binary, to, except]`, leave `[seq, time]`, request `[seq, time,
 * rid, id, request]`, answer `[seq, time, rid, outcome]`. `seq` counts the sender's messages (every
 * channel), `time` is its clock (ms since 1970): together they let a receiver refuse a replayed message.
 * Everything read is validated: a channel can carry anything anyone publishes.
 * @module
 */
import { isUtf8 } from "node:buffer";
import type { ClusterRequest, Publication, RequestOutcome } from "../../core/index.js";
import { KEY_ID_BYTES, MAC_BYTES, UNSIGNED, type Signer } from "./signing.js";

/** The format version, the first byte of every message. Version 1 (unsigned JSON) is not read any more. */
export const WIRE_VERSION = 2;

/** Length of a process id on the wire. */
const NODE_BYTES = 12;

const KIND_AT = 1 + KEY_ID_BYTES;
const NODE_AT = KIND_AT + 1;
const HEADER_AT = NODE_AT + NODE_BYTES;
const NEWLINE = 0x0a;
const NODE_ID = /^[A-Za-z0-9_-]{12}$/;

/** Message kinds. */
export const Kind = { publication: 0x70, leave: 0x6c, request: 0x71, answer: 0x61 } as const;
type KindByte = (typeof Kind)[keyof typeof Kind];

/** What a message says about itself before its signature is checked. */
export interface Envelope {
  readonly keyId: number;
  readonly kind: KindByte;
  readonly node: string;
}

/** A checked message's content. */
export interface Body {
  readonly seq: number;
  readonly time: number;
  /** The header's fields after `seq` and `time`. */
  readonly fields: readonly unknown[];
  /** The bytes after the header's newline (empty when there is none). */
  readonly payload: Buffer;
}

/** Where a message goes and who sends it. */
export interface Sender {
  readonly signer: Signer;
  readonly node: string;
  /** The sender's next sequence number. */
  next(): number;
}

/**
 * Encodes and signs a message of `kind` for `channel` (given as {@link channelTag}): `fields` after the
 * sequence number and time, then the payload if any.
 */
export function seal(sender: Sender, channel: Buffer, kind: KindByte, fields: readonly unknown[], payload?: string | Uint8Array): Buffer {
  const { signer } = sender;
  const header = JSON.stringify([sender.next(), Date.now(), ...fields]);
  const headerBytes = Buffer.byteLength(header);
  const payloadBytes = payload === undefined ? 0 : 1 + (typeof payload === "string" ? Buffer.byteLength(payload) : payload.byteLength);
  const message = Buffer.allocUnsafe(HEADER_AT + headerBytes + payloadBytes + signer.macBytes);
  message[0] = WIRE_VERSION;
  message.writeUInt32BE(signer.keyId, 1);
  message[KIND_AT] = kind;
  message.write(sender.node, NODE_AT, NODE_BYTES, "latin1");
  let at = HEADER_AT + message.write(header, HEADER_AT, "utf8");
  if (payload !== undefined) {
    message[at++] = NEWLINE;
    at += typeof payload === "string" ? message.write(payload, at, "utf8") : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).copy(message, at);
  }
  signer.sign(channel, message);
  return message;
}

/** Reads a message's version, key id, kind and sender; `null` when it is not a message of this format. */
export function readEnvelope(message: Buffer): Envelope | null {
  if (message.length < HEADER_AT + 2 || message[0] !== WIRE_VERSION) return null;
  const kind = message[KIND_AT];
  if (kind !== Kind.publication && kind !== Kind.leave && kind !== Kind.request && kind !== Kind.answer) return null;
  const node = message.toString("latin1", NODE_AT, HEADER_AT);
  if (!NODE_ID.test(node)) return null;
  return { keyId: message.readUInt32BE(1), kind, node };
}

/** True when `message` was sent by `node` (compared without decoding: a process skips its own publications this way). */
export function sentBy(message: Buffer, node: Buffer): boolean {
  return message.length >= HEADER_AT && message.compare(node, 0, NODE_BYTES, NODE_AT, HEADER_AT) === 0;
}

/** Reads the header and payload of a message whose envelope was read; `null` when they are not valid. */
export function readBody(message: Buffer, envelope: Envelope): Body | null {
  const end = message.length - (envelope.keyId === UNSIGNED ? 0 : MAC_BYTES);
  if (end <= HEADER_AT) return null;
  const newline = message.indexOf(NEWLINE, HEADER_AT);
  const headerEnd = newline === -1 || newline >= end ? end : newline;
  let header: unknown;
  try {
    header = JSON.parse(message.toString("utf8", HEADER_AT, headerEnd));
  } catch {
    return null;
  }
  if (!Array.isArray(header) || header.length < 2) return null;
  const [seq, time, ...fields] = header as unknown[];
  if (!isCount(seq) || !isCount(time)) return null;
  const payload = headerEnd === end ? Buffer.alloc(0) : message.subarray(headerEnd + 1, end);
  return { seq, time, fields, payload };
}

/** Encodes a publication. */
export function encodePublication(sender: Sender, channel: Buffer, publication: Publication): Buffer {
  return seal(sender, channel, Kind.publication, [publication.binary ? 1 : 0, publication.to, publication.except], publication.data);
}

/** Decodes a publication's body; `null` when it is not a valid one. */
export function decodePublication(body: Body): Publication | null {
  if (body.fields.length !== 3) return null;
  const [binary, to, except] = body.fields;
  if ((binary !== 0 && binary !== 1) || !isNameList(to) || !isNameList(except)) return null;
  if (binary === 1) {
    // A copy: the payload outlives this call in socket write queues, the reply buffer may not.
    return { to, except, data: Buffer.from(body.payload), binary: true };
  }
  // Text arrives as it was published: a string.
  if (!isUtf8(body.payload)) return null;
  return { to, except, data: body.payload.toString("utf8"), binary: false };
}

/** Encodes the notice of a process leaving the channel. */
export function encodeLeave(sender: Sender, channel: Buffer): Buffer {
  return seal(sender, channel, Kind.leave, []);
}

/** A message on a process's own channel. */
export type NodeMessage =
  | { readonly kind: "request"; readonly rid: number; readonly id: string; readonly request: ClusterRequest }
  | { readonly kind: "answer"; readonly rid: number; readonly outcome: RequestOutcome };

/** Encodes a request for connection `id`, answered on the sender's channel. */
export function encodeRequest(sender: Sender, channel: Buffer, rid: number, id: string, request: ClusterRequest): Buffer {
  return seal(sender, channel, Kind.request, [rid, id, request]);
}

/**
 * Encodes the answer to request `rid`. An `ok` value that JSON cannot encode (a BigInt, a cycle)
 * becomes an `error` outcome saying so.
 */
export function encodeAnswer(sender: Sender, channel: Buffer, rid: number, outcome: RequestOutcome): Buffer {
  try {
    return seal(sender, channel, Kind.answer, [rid, outcome]);
  } catch (error) {
    const message = `the answer cannot travel as JSON: ${error instanceof Error ? error.message : String(error)}`;
    return seal(sender, channel, Kind.answer, [rid, { status: "error", error: { name: "WsmountError", message, code: "ERR_WSMOUNT_BROKER" } }]);
  }
}

/** Decodes a request or an answer; `null` when it is not a valid one. */
export function decodeNodeMessage(envelope: Envelope, body: Body): NodeMessage | null {
  if (body.payload.length > 0) return null;
  if (envelope.kind === Kind.request && body.fields.length === 3) {
    const [rid, id, request] = body.fields;
    if (!isCount(rid) || typeof id !== "string" || id.length === 0 || !isRequest(request)) return null;
    return { kind: "request", rid, id, request };
  }
  if (envelope.kind === Kind.answer && body.fields.length === 2) {
    const [rid, outcome] = body.fields;
    if (!isCount(rid) || !isOutcome(outcome)) return null;
    return { kind: "answer", rid, outcome };
  }
  return null;
}

function isNameList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((name) => typeof name === "string" && name.length > 0);
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function isRequest(value: unknown): value is ClusterRequest {
  if (value === null || typeof value !== "object") return false;
  const request = value as Record<string, unknown>;
  if (request.type === "session") return true;
  return request.type === "emitWithAck" && typeof request.event === "string" && typeof request.timeout === "number" && Number.isInteger(request.timeout) && request.timeout >= 0;
}

function isOutcome(value: unknown): value is RequestOutcome {
  if (value === null || typeof value !== "object") return false;
  const outcome = value as Record<string, unknown>;
  switch (outcome.status) {
    case "ok":
    case "not-found":
    case "timeout":
      return true;
    case "error": {
      const error = outcome.error as Record<string, unknown> | null;
      return error !== null && typeof error === "object" && typeof error.name === "string" && typeof error.message === "string" && (error.code === undefined || typeof error.code === "string");
    }
    default:
      return false;
  }
}
