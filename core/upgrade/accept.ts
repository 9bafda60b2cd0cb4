/**
 * Completes an accepted handshake: negotiates permessage-deflate, writes the whole 101 (accept key,
 * chosen subprotocol, extensions, the extra header lines) in one socket write, and starts the
 * WebSocket engine on the socket. When ws's engine parts did not pass their start-up check (or
 * `WSMOUNT_WS_INTERNALS=0`), ws's own `WebSocketServer` does the last step instead. This is the only
 * module that hands a socket to `ws`.
 * @module
 */
import * as crypto from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type ServerOptions, type WebSocket } from "ws";
import { Engine, type EngineOptions, type Extensions } from "../engine.js";
import type { ResolvedOptions } from "../options.js";
import type { SocketLike } from "../types.js";
import { engineParts } from "../ws-compat.js";
import { acceptableOffers, negotiateDeflate } from "./negotiation.js";

const kAccepted = Symbol("wsmount.accepted");
/** RFC 6455 section 1.3 */
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const NO_EXTENSIONS: Extensions = Object.freeze({}) as Extensions;

interface Accepted {
  protocol: string | null;
  headerLines: string[];
}

type AcceptedRequest = IncomingMessage & { [kAccepted]?: Accepted | undefined };

/** One endpoint's handshake completer. */
export class Acceptor {
  readonly #deflate: false | Record<string, unknown>;
  readonly #maxMessageSize: number;
  readonly #engine: EngineOptions;
  readonly #serverOptions: ServerOptions;
  /** ws's server for the fallback path, made on first use. */
  #wss: WebSocketServer | null = null;

  constructor(options: ResolvedOptions<unknown>) {
    this.#deflate = deflateOptions(options);
    this.#maxMessageSize = options.maxMessageSize;
    this.#engine = {
      maxPayload: options.maxMessageSize,
      maxFragments: options.maxFragments,
      // A client that ignores our close frame gets no longer than one that ignores a ping.
      closeTimeout: options.pongTimeout,
      maxPendingPongs: MAX_PENDING_PONGS,
    };
    this.#serverOptions = {
      noServer: true,
      clientTracking: false,
      maxPayload: options.maxMessageSize,
      maxFragments: options.maxFragments,
      perMessageDeflate: this.#deflate,
      handleProtocols: chosenProtocol,
      closeTimeout: options.pongTimeout,
    } as ServerOptions;
  }

  /**
   * Writes the 101 and calls `opened` with the WebSocket, synchronously; a socket that is no longer
   * readable and writable is destroyed instead, without calling `opened`.
   */
  complete(request: IncomingMessage, socket: Duplex, head: Buffer, protocol: string | null, headerLines: string[], opened: (ws: SocketLike) => void): void {
    const parts = engineParts();
    if (parts === null) {
      this.#completeThroughWs(request, socket, head, protocol, headerLines, opened);
      return;
    }
    if (!socket.readable || !socket.writable) {
      socket.destroy();
      return;
    }
    // checkHandshake validated the key.
    const key = request.headers["sec-websocket-key"] as string;
    let response = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key)}\r\n`;
    if (protocol !== null) response += `Sec-WebSocket-Protocol: ${protocol}\r\n`;
    let extensions = NO_EXTENSIONS;
    const offered = request.headers["sec-websocket-extensions"];
    if (this.#deflate !== false && offered !== undefined) {
      const accepted = negotiateDeflate(offered, this.#deflate, this.#maxMessageSize, parts);
      if (accepted !== undefined) {
        extensions = { "permessage-deflate": accepted.deflate as Extensions[string] };
        response += `Sec-WebSocket-Extensions: ${accepted.header}\r\n`;
      }
    }
    for (const line of headerLines) response += `${line}\r\n`;
    socket.write(`${response}\r\n`);
    opened(new Engine(parts, socket, head, protocol ?? "", extensions, this.#engine));
  }

  #completeThroughWs(request: IncomingMessage, socket: Duplex, head: Buffer, protocol: string | null, headerLines: string[], opened: (ws: SocketLike) => void): void {
    const offered = request.headers["sec-websocket-extensions"];
    if (this.#deflate !== false && offered !== undefined) {
      const acceptable = acceptableOffers(offered, this.#deflate, this.#maxMessageSize);
      if (acceptable === undefined) delete request.headers["sec-websocket-extensions"];
      else request.headers["sec-websocket-extensions"] = acceptable;
    }
    (request as AcceptedRequest)[kAccepted] = { protocol, headerLines };
    this.#wss ??= newWebSocketServer(this.#serverOptions);
    this.#wss.handleUpgrade(request, socket, head, (ws: WebSocket) => opened(ws as unknown as SocketLike));
  }

  close(): void {
    this.#wss?.close();
  }
}

/** Pongs not yet written before a peer that keeps pinging is cut (ws's server default). */
const MAX_PENDING_PONGS = 60;

type OneShotHash = (algorithm: string, data: string, encoding: "base64") => string;
// crypto.hash (Node 20.12+, 21.7+) hashes in one call without a Hash object; createHash otherwise.
const oneShot = (crypto as { hash?: OneShotHash }).hash;
const hash: OneShotHash | null = typeof oneShot === "function" ? oneShot : null;

/** The `Sec-WebSocket-Accept` value for a key (RFC 6455 section 4.2.2). */
export function acceptKey(key: string): string {
  return hash !== null ? hash("sha1", key + GUID, "base64") : crypto.createHash("sha1").update(key + GUID).digest("base64");
}

function newWebSocketServer(options: ServerOptions): WebSocketServer {
  const wss = new WebSocketServer(options);
  wss.on("headers", addAcceptedHeaders);
  return wss;
}

function chosenProtocol(_offered: Set<string>, request: IncomingMessage): string | false {
  return (request as AcceptedRequest)[kAccepted]?.protocol ?? false;
}

function addAcceptedHeaders(headers: string[], request: IncomingMessage): void {
  const accepted = (request as AcceptedRequest)[kAccepted];
  if (accepted === undefined) return;
  for (const line of accepted.headerLines) headers.push(line);
  // Not `delete`, which would turn the request into a slow dictionary object.
  (request as AcceptedRequest)[kAccepted] = undefined;
}

function deflateOptions(options: ResolvedOptions<unknown>): false | Record<string, unknown> {
  const c = options.compression;
  if (c === false) return false;
  return {
    threshold: c.threshold,
    zlibDeflateOptions: { level: c.level, memLevel: c.memLevel },
    // `false` would make ws refuse (400) every offer that asks for server_no_context_takeover, which
    // RFC 7692 section 7.1.1.1 lets a server accept at no cost; "not imposed" is ws's `undefined`.
    serverNoContextTakeover: c.serverNoContextTakeover ? true : undefined,
    clientNoContextTakeover: c.clientNoContextTakeover,
    // A window of 15 bits is the RFC 7692 default and needs no negotiation. Passing 15 to ws as a
    // number would make it refuse (400) every offer without client_max_window_bits (section 7.1.2.2:
    // the server may not impose it then) or with server_max_window_bits below 15 (which the server
    // can honour): that is most non-browser clients.
    serverMaxWindowBits: c.serverMaxWindowBits === 15 ? undefined : c.serverMaxWindowBits,
    clientMaxWindowBits: c.clientMaxWindowBits === 15 ? undefined : c.clientMaxWindowBits,
    concurrencyLimit: c.concurrencyLimit,
  };
}
