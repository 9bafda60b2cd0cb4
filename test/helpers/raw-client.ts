/**
 * A WebSocket client on a bare `net` socket, for conformance and hostile-input tests: it performs
 * the opening handshake with whatever headers a test chooses, sends hand-built frames (see
 * frames.ts) and reads the server's frames back as ordered events with bounded waits.
 */
import { connect, type Socket } from "node:net";
import { createHash, randomBytes } from "node:crypto";
import { constants as zlibConstants, createInflateRaw, type InflateRaw } from "node:zlib";
import { FrameParser, Opcode, parseClosePayload, type ParsedFrame } from "./frames.js";

/** RFC 6455 §1.3: the GUID appended to the key before hashing. */
const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** Default bound on every wait, in ms. */
export const DEFAULT_WAIT = 3_000;

/** `Sec-WebSocket-Accept` for a given `Sec-WebSocket-Key`. */
export function acceptFor(key: string): string {
  return createHash("sha1").update(key + WEBSOCKET_GUID).digest("base64");
}

/** A fresh random `Sec-WebSocket-Key`. */
export function randomKey(): string {
  return randomBytes(16).toString("base64");
}

/** Choices for the opening handshake. */
export interface HandshakeOptions {
  /** Request target. Default: `"/echo"`. */
  path?: string;
  /** `Sec-WebSocket-Key`. Default: random. */
  key?: string;
  /** `Sec-WebSocket-Extensions` offer, sent as is. Default: none. */
  extensions?: string;
  /** `Sec-WebSocket-Protocol` offer. Default: none. */
  protocols?: string[];
  /** More header lines, appended after the standard ones. */
  headers?: Record<string, string>;
  /** Bound on the wait for the response head, in ms. Default: {@link DEFAULT_WAIT}. */
  timeout?: number;
}

/** A parsed HTTP response head. */
export interface ResponseHead {
  httpVersion: string;
  statusCode: number;
  statusText: string;
  /** Header values by lower-cased name, in arrival order. */
  headers: Map<string, string[]>;
}

/** Parse the head of an HTTP/1.x response (without the final blank line); `undefined` if malformed. */
export function parseResponseHead(head: string): ResponseHead | undefined {
  const lines = head.split("\r\n");
  const match = /^HTTP\/(1\.[01]) (\d{3}) ?(.*)$/.exec(lines[0] ?? "");
  if (!match) return undefined;
  const headers = new Map<string, string[]>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) return undefined;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(name)) return undefined;
    const list = headers.get(name) ?? [];
    list.push(line.slice(colon + 1).trim());
    headers.set(name, list);
  }
  return { httpVersion: match[1] ?? "", statusCode: Number(match[2]), statusText: match[3] ?? "", headers };
}

/** The standard lines of a valid client handshake (RFC 6455 §4.1), without the blank line. */
export function handshakeLines(port: number, options: HandshakeOptions = {}): string[] {
  const lines = [
    `GET ${options.path ?? "/echo"} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Key: ${options.key ?? randomKey()}`,
    "Sec-WebSocket-Version: 13",
  ];
  if (options.extensions !== undefined) lines.push(`Sec-WebSocket-Extensions: ${options.extensions}`);
  if (options.protocols !== undefined) lines.push(`Sec-WebSocket-Protocol: ${options.protocols.join(", ")}`);
  for (const [name, value] of Object.entries(options.headers ?? {})) lines.push(`${name}: ${value}`);
  return lines;
}

/** Open a TCP connection to 127.0.0.1:port; rejects on error. */
export function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: "127.0.0.1", noDelay: true });
    socket.once("connect", () => {
      socket.off("error", reject);
      resolve(socket);
    });
    socket.once("error", reject);
  });
}

/** What a raw HTTP exchange ended with. */
export interface RawExchange {
  /** Every byte the server sent. */
  bytes: Buffer;
  /** The parsed head, if the bytes start with a well-formed one. */
  head: ResponseHead | undefined;
  /** The bytes after the head. */
  body: Buffer;
  /**
   * How the exchange ended: a complete response arrived (and the socket may stay open for
   * keep-alive), the server closed (FIN), the connection was reset, or the wait ran out.
   */
  ending: "response" | "end" | "reset" | "timeout";
}

/**
 * Whether `bytes` hold one complete HTTP response: a head, then a body delimited by
 * Content-Length or chunked encoding (a response delimited by the close is complete only at the end).
 */
export function isCompleteResponse(bytes: Buffer, requestMethod = "GET"): boolean {
  const split = bytes.indexOf("\r\n\r\n");
  if (split < 0) return false;
  const head = parseResponseHead(bytes.subarray(0, split).toString("latin1"));
  if (!head) return false;
  const body = bytes.subarray(split + 4);
  if (requestMethod === "HEAD" || head.statusCode < 200 || head.statusCode === 204 || head.statusCode === 304) return true;
  const length = head.headers.get("content-length")?.[0];
  if (length !== undefined) return body.length >= Number(length);
  if (head.headers.get("transfer-encoding")?.join(",").toLowerCase().includes("chunked")) {
    return body.subarray(-5).toString("latin1") === "0\r\n\r\n";
  }
  return false;
}

/**
 * Send raw bytes (a possibly malformed request), then collect whatever the server answers until
 * a complete response has arrived, the server closes the connection, or `timeout` ms pass.
 * Never throws for a network error.
 */
export async function rawExchange(port: number, request: Buffer | string, timeout = DEFAULT_WAIT): Promise<RawExchange> {
  const socket = await openSocket(port);
  const method = (typeof request === "string" ? request : request.toString("latin1")).split(" ", 1)[0] ?? "";
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (ending: RawExchange["ending"]): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const bytes = Buffer.concat(chunks);
      const split = bytes.indexOf("\r\n\r\n");
      const head = split >= 0 ? parseResponseHead(bytes.subarray(0, split).toString("latin1")) : undefined;
      resolve({ bytes, head, body: split >= 0 ? bytes.subarray(split + 4) : Buffer.alloc(0), ending });
    };
    const timer = setTimeout(() => finish("timeout"), timeout);
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      if (isCompleteResponse(Buffer.concat(chunks), method)) finish("response");
    });
    socket.on("end", () => finish("end"));
    socket.on("error", () => finish("reset"));
    socket.on("close", () => finish("end"));
    // The server may answer and close before the whole request is written; that is not an error.
    socket.write(request, () => undefined);
  });
}

/** One thing the server did, as the client saw it, in order. */
export type ServerEvent =
  | { kind: "message"; opcode: number; data: Buffer; compressed: boolean; frames: number }
  | { kind: "ping"; payload: Buffer }
  | { kind: "pong"; payload: Buffer }
  | { kind: "close"; code: number | undefined; reason: Buffer }
  | { kind: "violation"; detail: string }
  | { kind: "end"; reset: boolean }
  | { kind: "timeout" };

/** Thrown when the server answers the handshake with anything but a correct 101. */
export class HandshakeFailed extends Error {
  readonly head: ResponseHead | undefined;
  constructor(message: string, head: ResponseHead | undefined) {
    super(message);
    this.name = "HandshakeFailed";
    this.head = head;
  }
}

/** What the server accepted in its 101. */
export interface Negotiated {
  /** The raw `Sec-WebSocket-Extensions` response value, or undefined. */
  extensions: string | undefined;
  /** permessage-deflate was accepted. */
  deflate: boolean;
  /** The server promised not to reuse its compression context. */
  serverNoContextTakeover: boolean;
  /** `Sec-WebSocket-Protocol` chosen by the server. */
  protocol: string | undefined;
}

function parseNegotiated(head: ResponseHead): Negotiated {
  const extensions = head.headers.get("sec-websocket-extensions")?.join(", ");
  const params = (extensions ?? "").split(";").map((p) => p.trim().toLowerCase());
  return {
    extensions,
    deflate: params[0] === "permessage-deflate",
    serverNoContextTakeover: params.includes("server_no_context_takeover"),
    protocol: head.headers.get("sec-websocket-protocol")?.[0],
  };
}

/**
 * A connected WebSocket client on a raw socket. Create it with {@link RawClient.connect}.
 * Reads are event-ordered: messages (fragments reassembled, permessage-deflate inflated),
 * control frames, protocol violations by the server, and the end of the connection.
 */
export class RawClient {
  readonly socket: Socket;
  readonly head: ResponseHead;
  readonly negotiated: Negotiated;
  #parser = new FrameParser();
  #events: ServerEvent[] = [];
  #waiters: Array<(event: ServerEvent) => void> = [];
  #ended = false;
  #fragments: ParsedFrame[] = [];
  #inflater: InflateRaw | undefined;
  // Decoding is async (zlib), so every event goes through one chain to keep arrival order.
  #chain: Promise<void> = Promise.resolve();

  private constructor(socket: Socket, head: ResponseHead, rest: Buffer) {
    this.socket = socket;
    this.head = head;
    this.negotiated = parseNegotiated(head);
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("end", () => this.#onEnd(false));
    socket.on("error", () => this.#onEnd(true));
    socket.on("close", () => this.#onEnd(false));
    if (rest.length > 0) this.#onData(rest);
    socket.resume();
  }

  /** Open a connection and complete the opening handshake; throws {@link HandshakeFailed} otherwise. */
  static async connect(port: number, options: HandshakeOptions = {}): Promise<RawClient> {
    const key = options.key ?? randomKey();
    const socket = await openSocket(port);
    const request = handshakeLines(port, { ...options, key }).join("\r\n") + "\r\n\r\n";
    const { head, rest } = await readResponseHead(socket, request, options.timeout ?? DEFAULT_WAIT).catch((error: unknown) => {
      socket.destroy();
      throw error;
    });
    if (head.statusCode !== 101) {
      socket.destroy();
      throw new HandshakeFailed(`expected 101, got ${head.statusCode} ${head.statusText}`, head);
    }
    if (head.headers.get("sec-websocket-accept")?.[0] !== acceptFor(key)) {
      socket.destroy();
      throw new HandshakeFailed("wrong Sec-WebSocket-Accept", head);
    }
    return new RawClient(socket, head, rest);
  }

  /** Write frames (or any raw bytes) to the server. Errors after a close are ignored. */
  send(...frames: Buffer[]): void {
    if (this.socket.destroyed || !this.socket.writable) return;
    this.socket.write(frames.length === 1 ? (frames[0] as Buffer) : Buffer.concat(frames), () => undefined);
  }

  /** The next server event, or `{ kind: "timeout" }` after `timeout` ms. */
  next(timeout = DEFAULT_WAIT): Promise<ServerEvent> {
    const queued = this.#events.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        resolve({ kind: "timeout" });
      }, timeout);
      const waiter = (event: ServerEvent): void => {
        clearTimeout(timer);
        resolve(event);
      };
      this.#waiters.push(waiter);
    });
  }

  /** Events until (and including) the end of the connection, at most `max` of them, within `timeout` ms. */
  async drain(timeout = DEFAULT_WAIT, max = 10_000): Promise<ServerEvent[]> {
    const deadline = Date.now() + timeout;
    const events: ServerEvent[] = [];
    while (events.length < max) {
      const event = await this.next(Math.max(1, deadline - Date.now()));
      events.push(event);
      if (event.kind === "end" || event.kind === "timeout") break;
    }
    return events;
  }

  /** Whether the connection has ended (FIN, reset or local destroy). */
  get ended(): boolean {
    return this.#ended;
  }

  /** Destroy the socket without a closing handshake. */
  destroy(): void {
    this.socket.destroy();
    this.#inflater?.close();
    this.#inflater = undefined;
  }

  #emit(event: ServerEvent): void {
    const waiter = this.#waiters.shift();
    if (waiter) waiter(event);
    else this.#events.push(event);
  }

  #enqueue(produce: () => ServerEvent | undefined | Promise<ServerEvent | undefined>): void {
    this.#chain = this.#chain
      .then(produce)
      .then(
        (event) => event && this.#emit(event),
        (error: unknown) => this.#emit({ kind: "violation", detail: String(error) }),
      );
  }

  #onEnd(reset: boolean): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#enqueue(() => ({ kind: "end", reset }));
  }

  #onData(chunk: Buffer): void {
    try {
      this.#parser.push(chunk);
    } catch (error) {
      this.#enqueue(() => ({ kind: "violation", detail: String(error) }));
      this.socket.destroy();
      return;
    }
    for (let frame = this.#parser.shift(); frame; frame = this.#parser.shift()) this.#onFrame(frame);
  }

  #onFrame(frame: ParsedFrame): void {
    const violation = this.#checkFrame(frame);
    if (violation) {
      this.#enqueue(() => ({ kind: "violation", detail: violation }));
      return;
    }
    if (frame.opcode >= 0x8) {
      if (frame.opcode === Opcode.close) {
        const { code, reason } = parseClosePayload(frame.payload);
        this.#enqueue(() => ({ kind: "close", code, reason }));
      } else {
        const kind = frame.opcode === Opcode.ping ? "ping" : "pong";
        this.#enqueue(() => ({ kind, payload: frame.payload }));
      }
      return;
    }
    this.#fragments.push(frame);
    if (!frame.fin) return;
    const fragments = this.#fragments;
    this.#fragments = [];
    const first = fragments[0] as ParsedFrame;
    const data = Buffer.concat(fragments.map((f) => f.payload));
    this.#enqueue(async () => ({
      kind: "message",
      opcode: first.opcode,
      data: first.rsv1 ? await this.#inflate(data) : data,
      compressed: first.rsv1,
      frames: fragments.length,
    }));
  }

  /** What the server did wrong in this frame, per RFC 6455 §5.1-5.5, or undefined. */
  #checkFrame(frame: ParsedFrame): string | undefined {
    if (frame.masked) return "server frame is masked";
    if (frame.rsv2 || frame.rsv3) return "server frame has RSV2/RSV3 set";
    const isControl = frame.opcode >= 0x8;
    if (frame.rsv1 && (!this.negotiated.deflate || isControl || frame.opcode === Opcode.continuation)) {
      return "server frame has RSV1 set without permessage-deflate on a first data frame";
    }
    if (![0x0, 0x1, 0x2, 0x8, 0x9, 0xa].includes(frame.opcode)) return `server used opcode ${frame.opcode}`;
    if (isControl && (!frame.fin || frame.payload.length > 125)) return "server control frame fragmented or too long";
    if (frame.opcode === Opcode.continuation && this.#fragments.length === 0) return "server continuation without start";
    if ((frame.opcode === Opcode.text || frame.opcode === Opcode.binary) && this.#fragments.length > 0) {
      return "server started a message inside another";
    }
    return undefined;
  }

  #inflate(data: Buffer): Promise<Buffer> {
    if (!this.#inflater) this.#inflater = createInflateRaw();
    const inflater = this.#inflater;
    if (this.negotiated.serverNoContextTakeover) this.#inflater = undefined;
    return new Promise((resolve, reject) => {
      const out: Buffer[] = [];
      const onData = (chunk: Buffer): void => void out.push(chunk);
      inflater.on("data", onData);
      inflater.once("error", reject);
      inflater.write(Buffer.concat([data, Buffer.from([0x00, 0x00, 0xff, 0xff])]));
      inflater.flush(zlibConstants.Z_SYNC_FLUSH, () => {
        inflater.off("data", onData);
        inflater.off("error", reject);
        if (inflater !== this.#inflater) inflater.close();
        resolve(Buffer.concat(out));
      });
    });
  }
}

/** Write `request` and read up to the end of the response head; the bytes after it are returned too. */
function readResponseHead(socket: Socket, request: string, timeout: number): Promise<{ head: ResponseHead; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("end", onEnd);
      socket.off("error", onError);
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new HandshakeFailed(`no response head within ${timeout} ms`, undefined));
    }, timeout);
    const onEnd = (): void => {
      cleanup();
      const split = received.indexOf("\r\n\r\n");
      const head = parseResponseHead(received.subarray(0, split >= 0 ? split : received.length).toString("latin1"));
      reject(new HandshakeFailed(`connection ended during the handshake`, head));
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(new HandshakeFailed(`socket error during the handshake: ${error.message}`, undefined));
    };
    const onData = (chunk: Buffer): void => {
      received = Buffer.concat([received, chunk]);
      const split = received.indexOf("\r\n\r\n");
      if (split < 0) return;
      cleanup();
      socket.pause();
      const head = parseResponseHead(received.subarray(0, split).toString("latin1"));
      if (!head) {
        reject(new HandshakeFailed("malformed response head", undefined));
        return;
      }
      // Stays paused: the caller resumes once its own data listener is in place.
      resolve({ head, rest: received.subarray(split + 4) });
    };
    socket.on("data", onData);
    socket.on("end", onEnd);
    socket.on("error", onError);
    socket.write(request);
  });
}
