/**
 * What the Redis broker writes on its channels. A publication is one binary message: a JSON header
 * line `[1, node, binary, to, except]`, a newline, then the payload bytes as they are (text as UTF-8),
 * without base64 or escaping. Text is handed back as a string, binary as bytes. Requests and answers between processes are
 * JSON text. Everything read is validated: a channel can carry anything anyone publishes.
 * @module
 */
import { isUtf8 } from "node:buffer";
import type { ClusterRequest, Publication, RequestOutcome } from "../../core/index.js";

/** The format version, the first element of every message. */
export const WIRE_VERSION = 1;

const NEWLINE = 0x0a;

/** Encodes a publication of process `node`. */
export function encodePublication(node: string, publication: Publication): Buffer {
  const header = JSON.stringify([WIRE_VERSION, node, publication.binary ? 1 : 0, publication.to, publication.except]);
  const { data } = publication;
  if (typeof data === "string") return Buffer.from(`${header}\n${data}`);
  const head = Buffer.from(`${header}\n`);
  return Buffer.concat([head, data], head.length + data.byteLength);
}

/** A publication read from Redis, with the process that published it. */
export interface ReceivedPublication {
  readonly node: string;
  readonly publication: Publication;
}

/** Decodes a publication; `null` when the message is not a valid one. */
export function decodePublication(message: Buffer): ReceivedPublication | null {
  const end = message.indexOf(NEWLINE);
  if (end === -1) return null;
  let header: unknown;
  try {
    header = JSON.parse(message.toString("utf8", 0, end));
  } catch {
    return null;
  }
  if (!Array.isArray(header) || header.length !== 5 || header[0] !== WIRE_VERSION) return null;
  const [, node, binary, to, except] = header as unknown[];
  if (typeof node !== "string" || (binary !== 0 && binary !== 1) || !isNameList(to) || !isNameList(except)) return null;
  const payload = message.subarray(end + 1);
  if (binary === 1) {
    // A copy: the payload outlives this call in socket write queues, the reply buffer may not.
    return { node, publication: { to, except, data: Buffer.from(payload), binary: true } };
  }
  // Text arrives as it was published: a string.
  if (!isUtf8(payload)) return null;
  return { node, publication: { to, except, data: payload.toString("utf8"), binary: false } };
}

/** A message on a process's own channel. */
export type NodeMessage =
  | { readonly kind: "request"; readonly from: string; readonly rid: number; readonly id: string; readonly request: ClusterRequest }
  | { readonly kind: "answer"; readonly rid: number; readonly outcome: RequestOutcome };

/** Encodes a request for connection `id`, answered on the channel of process `from`. */
export function encodeRequest(from: string, rid: number, id: string, request: ClusterRequest): string {
  return JSON.stringify([WIRE_VERSION, "q", from, rid, id, request]);
}

/**
 * Encodes the answer to request `rid`. An `ok` value that JSON cannot encode (a BigInt, a cycle)
 * becomes an `error` outcome saying so.
 */
export function encodeAnswer(rid: number, outcome: RequestOutcome): string {
  try {
    return JSON.stringify([WIRE_VERSION, "a", rid, outcome]);
  } catch (error) {
    const message = `the answer cannot travel as JSON: ${error instanceof Error ? error.message : String(error)}`;
    return JSON.stringify([WIRE_VERSION, "a", rid, { status: "error", error: { name: "WsmountError", message, code: "ERR_WSMOUNT_BROKER" } }]);
  }
}

/** Decodes a message of a process channel; `null` when it is not a valid one. */
export function decodeNodeMessage(text: string): NodeMessage | null {
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch {
    return null;
  }
  if (!Array.isArray(message) || message[0] !== WIRE_VERSION) return null;
  if (message[1] === "q" && message.length === 6) {
    const [, , from, rid, id, request] = message as unknown[];
    if (typeof from !== "string" || !isRid(rid) || typeof id !== "string" || id.length === 0 || !isRequest(request)) return null;
    return { kind: "request", from, rid, id, request };
  }
  if (message[1] === "a" && message.length === 4) {
    const [, , rid, outcome] = message as unknown[];
    if (!isRid(rid) || !isOutcome(outcome)) return null;
    return { kind: "answer", rid, outcome };
  }
  return null;
}

function isNameList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((name) => typeof name === "string" && name.length > 0);
}

function isRid(value: unknown): value is number {
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
