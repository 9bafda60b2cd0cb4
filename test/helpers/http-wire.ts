/**
 * The HTTP/1.1 wire as a hostile client sees it: a raw TCP client that writes whatever it is told and
 * keeps every byte the server sends, a parser that checks those bytes are well-formed (responses in
 * order, each with a status line, headers and a delimited body; after a 101, only valid server frames),
 * and a tracker of a server's own sockets, to check none is left behind.
 */
import { connect, type Socket } from "node:net";
import type { Server } from "node:http";
import { FrameParser, Opcode, parseClosePayload, closeFrame, textFrame, type ParsedFrame } from "./frames.js";
import { parseResponseHead, RawClient, type ResponseHead } from "./raw-client.js";

/** One response as parsed off the wire. */
export interface WireResponse {
  status: number;
  head: ResponseHead;
  body: Buffer;
}

/** Everything the server sent on one connection, parsed. */
export interface WireStream {
  /** Complete HTTP responses, in order. */
  responses: WireResponse[];
  /** A 101 switched the connection to WebSocket. */
  switched: boolean;
  /** The server's frames after the 101. */
  frames: ParsedFrame[];
  /** The code of the server's close frame (null for an empty one), undefined when none came. */
  closeCode: number | null | undefined;
  /** What is wrong with the bytes; undefined when every byte is part of a well-formed message. */
  malformed: string | undefined;
  /** Bytes of a message still incomplete on a connection that is still open. */
  pending: number;
}

const CRLF = Buffer.from("\r\n");

/** Parses a chunked body at `start`; returns the offset after it, -1 when incomplete, or an error text. */
function chunkedEnd(bytes: Buffer, start: number): number | string {
  let at = start;
  for (;;) {
    const eol = bytes.indexOf(CRLF, at);
    if (eol < 0) return -1;
    const sizeText = bytes.subarray(at, eol).toString("latin1").split(";")[0]!.trim();
    if (!/^[0-9a-fA-F]{1,8}$/.test(sizeText)) return `bad chunk size line ${JSON.stringify(sizeText.slice(0, 40))}`;
    const size = parseInt(sizeText, 16);
    at = eol + 2;
    if (size === 0) {
      // Trailer fields, then the empty line.
      for (;;) {
        const end = bytes.indexOf(CRLF, at);
        if (end < 0) return -1;
        if (end === at) return at + 2;
        at = end + 2;
      }
    }
    if (bytes.length < at + size + 2) return -1;
    if (!bytes.subarray(at + size, at + size + 2).equals(CRLF)) return "chunk not followed by CRLF";
    at += size + 2;
  }
}

/**
 * Parses what a server sent on one connection. `ended`: the connection is over (a response delimited
 * by the close is complete, an incomplete message is malformed). `methods`: the request methods in order
 * (a response to HEAD has no body).
 */
export function parseServerStream(bytes: Buffer, ended: boolean, methods: readonly string[] = []): WireStream {
  const stream: WireStream = { responses: [], switched: false, frames: [], closeCode: undefined, malformed: undefined, pending: 0 };
  let at = 0;
  const incomplete = (what: string): WireStream => {
    if (ended) stream.malformed = `the connection ended inside ${what} (${bytes.length - at} bytes: ${JSON.stringify(bytes.subarray(at, at + 80).toString("latin1"))})`;
    else stream.pending = bytes.length - at;
    return stream;
  };
  while (at < bytes.length && !stream.switched) {
    const split = bytes.indexOf("\r\n\r\n", at);
    if (split < 0) {
      // A start that cannot become a status line is malformed at once.
      const start = bytes.subarray(at, Math.min(bytes.length, at + 9)).toString("latin1");
      if (!"HTTP/1.1 ".startsWith(start) && !"HTTP/1.0 ".startsWith(start) && !/^HTTP\/1\.[01] /.test(start)) {
        stream.malformed = `bytes that are not an HTTP response: ${JSON.stringify(bytes.subarray(at, at + 80).toString("latin1"))}`;
        return stream;
      }
      return incomplete("a response head");
    }
    const head = parseResponseHead(bytes.subarray(at, split).toString("latin1"));
    if (head === undefined) {
      stream.malformed = `malformed response head: ${JSON.stringify(bytes.subarray(at, Math.min(split, at + 200)).toString("latin1"))}`;
      return stream;
    }
    const bodyStart = split + 4;
    const status = head.statusCode;
    const method = methods[stream.responses.length] ?? "GET";
    if (status === 101) {
      stream.responses.push({ status, head, body: Buffer.alloc(0) });
      stream.switched = true;
      at = bodyStart;
      break;
    }
    if (status < 200) {
      // Another interim response (100 Continue): no body, the final response follows.
      at = bodyStart;
      continue;
    }
    const lengths = head.headers.get("content-length");
    const codings = head.headers.get("transfer-encoding");
    if (lengths !== undefined && codings !== undefined) {
      stream.malformed = `response ${status} has both Content-Length and Transfer-Encoding`;
      return stream;
    }
    let end: number;
    if (method === "HEAD" || status === 204 || status === 304) {
      end = bodyStart;
    } else if (lengths !== undefined) {
      const values = new Set(lengths.flatMap((value) => value.split(",").map((v) => v.trim())));
      const [only] = values;
      if (values.size !== 1 || only === undefined || !/^\d+$/.test(only)) {
        stream.malformed = `response ${status} has an invalid Content-Length ${JSON.stringify(lengths)}`;
        return stream;
      }
      end = bodyStart + Number(only);
      if (bytes.length < end) return incomplete(`the body of a ${status} response`);
    } else if (codings !== undefined) {
      const list = codings.join(",").split(",").map((c) => c.trim().toLowerCase());
      if (list[list.length - 1] !== "chunked") {
        stream.malformed = `response ${status} has Transfer-Encoding ${JSON.stringify(codings)} without chunked last`;
        return stream;
      }
      const result = chunkedEnd(bytes, bodyStart);
      if (typeof result === "string") {
        stream.malformed = `response ${status}: ${result}`;
        return stream;
      }
      if (result < 0) return incomplete(`the chunked body of a ${status} response`);
      end = result;
    } else {
      // Delimited by the close: complete only once the connection ended, and nothing can follow it.
      if (!ended) return incomplete(`the close-delimited body of a ${status} response`);
      end = bytes.length;
    }
    stream.responses.push({ status, head, body: bytes.subarray(bodyStart, end) });
    at = end;
  }
  if (!stream.switched) return stream;

  // After the 101: server frames only (RFC 6455 section 5).
  const deflate = (stream.responses[stream.responses.length - 1]?.head.headers.get("sec-websocket-extensions") ?? []).join(",").includes("permessage-deflate");
  const parser = new FrameParser();
  try {
    parser.push(bytes.subarray(at));
  } catch (error) {
    stream.malformed = `after the 101: ${String(error)}`;
    return stream;
  }
  let fragmented = false;
  for (let frame = parser.shift(); frame; frame = parser.shift()) {
    const problem = frameProblem(frame, deflate, fragmented, stream.closeCode !== undefined);
    if (problem !== undefined) {
      stream.malformed = `after the 101: ${problem} (frame starting ${JSON.stringify(frame.payload.subarray(0, 40).toString("latin1"))})`;
      return stream;
    }
    if (frame.opcode === Opcode.close) stream.closeCode = parseClosePayload(frame.payload).code ?? null;
    else if (frame.opcode < 0x8) fragmented = !frame.fin;
    stream.frames.push(frame);
  }
  if (parser.pendingBytes > 0) {
    if (ended) stream.malformed = `after the 101: the connection ended inside a frame (${parser.pendingBytes} bytes)`;
    else stream.pending = parser.pendingBytes;
  }
  return stream;
}

function frameProblem(frame: ParsedFrame, deflate: boolean, fragmented: boolean, afterClose: boolean): string | undefined {
  if (afterClose) return "a frame after the close frame";
  if (frame.masked) return "a masked server frame";
  if (frame.rsv2 || frame.rsv3 || (frame.rsv1 && (!deflate || frame.opcode >= 0x8 || frame.opcode === Opcode.continuation))) return "reserved bits set";
  if (![0x0, 0x1, 0x2, 0x8, 0x9, 0xa].includes(frame.opcode)) return `opcode ${frame.opcode}`;
  if (frame.opcode >= 0x8 && (!frame.fin || frame.payload.length > 125)) return "a fragmented or oversized control frame";
  if (frame.opcode === Opcode.continuation && !fragmented) return "a continuation without a start";
  if ((frame.opcode === Opcode.text || frame.opcode === Opcode.binary) && fragmented) return "a message started inside another";
  return undefined;
}

const openClients = new Set<WireClient>();

/**
 * A raw TCP client for hostile HTTP: writes exactly the bytes it is given, keeps every byte the server
 * sends, and knows when the server ended the connection. Every one is tracked until
 * {@link destroyWireClients}.
 */
export class WireClient {
  readonly socket: Socket;
  #chunks: Buffer[] = [];
  #bytes: Buffer | null = null;
  #ended = false;
  #reset = false;
  #wake = new Set<() => void>();
  /** Request methods in order, for the parser (a response to HEAD has no body); GET when not set. */
  readonly methods: string[] = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    openClients.add(this);
    socket.on("data", (chunk: Buffer) => {
      this.#chunks.push(chunk);
      this.#bytes = null;
      this.#notify();
    });
    socket.on("end", () => this.#finish());
    socket.on("error", () => {
      this.#reset = true;
      this.#finish();
    });
    socket.on("close", () => this.#finish());
  }

  /** Connects to 127.0.0.1:port. */
  static open(port: number): Promise<WireClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host: "127.0.0.1", noDelay: true });
      socket.once("connect", () => {
        socket.off("error", reject);
        resolve(new WireClient(socket));
      });
      socket.once("error", reject);
    });
  }

  /** Every byte received so far. */
  get bytes(): Buffer {
    return (this.#bytes ??= Buffer.concat(this.#chunks));
  }

  /** The server ended the connection (FIN, reset), or this client destroyed it. */
  get ended(): boolean {
    return this.#ended;
  }

  /** The connection was reset (an error on the socket). */
  get wasReset(): boolean {
    return this.#reset;
  }

  /** What the server sent, parsed. */
  stream(): WireStream {
    return parseServerStream(this.bytes, this.#ended, this.methods);
  }

  /** Writes raw bytes (errors after the server closed are ignored). */
  write(data: string | Buffer): void {
    if (this.socket.destroyed || !this.socket.writable) return;
    this.socket.write(data, () => undefined);
  }

  /** Half-closes: sends FIN, keeps reading. */
  halfClose(): void {
    if (!this.socket.destroyed) this.socket.end();
  }

  /** Closes without reading on (FIN, or RST when unread data is pending). */
  destroy(): void {
    this.socket.destroy();
  }

  /** Resets the connection (RST). */
  reset(): void {
    if (!this.socket.destroyed) this.socket.resetAndDestroy();
  }

  /**
   * Resolves true as soon as `condition` holds (checked now and whenever bytes arrive or the connection
   * ends), false after `timeout` ms or as soon as `abort` holds.
   */
  waitFor(condition: (client: WireClient) => boolean, timeout: number, abort: () => boolean = () => false): Promise<boolean> {
    if (condition(this)) return Promise.resolve(true);
    return new Promise((resolve) => {
      let poll: NodeJS.Timeout | undefined;
      const finish = (value: boolean): void => {
        clearTimeout(timer);
        clearInterval(poll);
        this.#wake.delete(check);
        resolve(value);
      };
      const check = (): void => {
        if (condition(this)) finish(true);
        else if (abort()) finish(false);
      };
      const timer = setTimeout(() => finish(condition(this)), timeout);
      // The abort condition changes without any event on this socket.
      poll = setInterval(check, 20);
      this.#wake.add(check);
    });
  }

  /** Resolves true once the connection ended, false after `timeout` ms (or when `abort` holds). */
  closed(timeout: number, abort?: () => boolean): Promise<boolean> {
    return this.waitFor((c) => c.ended, timeout, abort);
  }

  /**
   * On a switched connection: sends a masked text frame and waits for the server's echo of it, then
   * closes with 1000 and waits for the server's close. Returns what went wrong, or undefined.
   */
  async echoCheck(timeout: number, text = "echo check"): Promise<string | undefined> {
    const before = this.stream().frames.length;
    this.write(textFrame(text));
    const echoed = await this.waitFor((c) => {
      const s = c.stream();
      return s.malformed !== undefined || c.ended || s.frames.slice(before).some((f) => f.opcode === Opcode.text);
    }, timeout);
    const s = this.stream();
    const reply = s.frames.slice(before).find((f) => f.opcode === Opcode.text);
    if (!echoed || reply === undefined) return `no echo on the switched connection (${s.malformed ?? (this.ended ? "it ended" : "timed out")})`;
    if (reply.payload.toString() !== text) return `echoed ${JSON.stringify(reply.payload.toString())} instead of ${JSON.stringify(text)}`;
    this.write(closeFrame(1000));
    if (!(await this.closed(timeout))) return "the server did not close after the client's close frame";
    return undefined;
  }

  #finish(): void {
    this.#ended = true;
    this.#bytes = null;
    this.#notify();
  }

  #notify(): void {
    for (const wake of [...this.#wake]) wake();
  }
}

/** Destroys every {@link WireClient} still open (after each test). */
export function destroyWireClients(): void {
  for (const client of openClients) client.destroy();
  openClients.clear();
}

/** The sockets a server accepted and that are not closed yet. */
export interface ServerSockets {
  readonly open: ReadonlySet<Socket>;
  /** Destroys the server's open sockets; returns how many there were. */
  destroyAll(): number;
}

/** Tracks the sockets `server` accepts from now on, until they close. */
export function trackServerSockets(server: Server): ServerSockets {
  const open = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    open.add(socket);
    socket.once("close", () => open.delete(socket));
  });
  return {
    open,
    destroyAll() {
      const count = open.size;
      for (const socket of open) socket.destroy();
      return count;
    },
  };
}

/**
 * A fresh, well-behaved client: handshake on `path`, one message echoed, a clean close. Returns what
 * went wrong, or undefined.
 */
export async function freshClientEchoes(port: number, path = "/echo", timeout = 3_000): Promise<string | undefined> {
  let client: RawClient;
  try {
    client = await RawClient.connect(port, { path, timeout });
  } catch (error) {
    return `a fresh client could not connect: ${String(error)}`;
  }
  try {
    client.send(textFrame("still alive"));
    const event = await client.next(timeout);
    if (event.kind !== "message" || event.data.toString() !== "still alive") return `a fresh client got ${JSON.stringify(event.kind === "message" ? event.data.toString() : event)} instead of its echo`;
    client.send(closeFrame(1000));
    const closing = await client.next(timeout);
    if (closing.kind !== "close") return `a fresh client got ${closing.kind} instead of the server's close frame`;
    return undefined;
  } finally {
    client.destroy();
  }
}
