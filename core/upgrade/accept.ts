/**
 * Completes an accepted handshake: filters the permessage-deflate offers, writes the 101 with the
 * chosen subprotocol and the extra header lines, and starts the WebSocket engine on the socket. This is
 * the only module that hands a socket to `ws`.
 * @module
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type ServerOptions, type WebSocket } from "ws";
import type { ResolvedOptions } from "../options.js";
import type { SocketLike } from "../types.js";
import { acceptableOffers } from "./negotiation.js";

const kAccepted = Symbol("wsmount.accepted");

interface Accepted {
  protocol: string | null;
  headerLines: string[];
}

type AcceptedRequest = IncomingMessage & { [kAccepted]?: Accepted | undefined };

/** One endpoint's handshake completer (a `noServer` `ws` server that tracks no clients). */
export class Acceptor {
  readonly #wss: WebSocketServer;
  readonly #deflate: false | Record<string, unknown>;
  readonly #maxMessageSize: number;

  constructor(options: ResolvedOptions<unknown>) {
    this.#deflate = deflateOptions(options);
    this.#maxMessageSize = options.maxMessageSize;
    const serverOptions: ServerOptions & { closeTimeout: number; maxFragments: number } = {
      noServer: true,
      clientTracking: false,
      maxPayload: options.maxMessageSize,
      maxFragments: options.maxFragments,
      perMessageDeflate: this.#deflate,
      handleProtocols: chosenProtocol,
      // How long a peer has to answer our close frame before ws destroys the socket (ws's default is
      // 30 s, its option is not in @types/ws yet): a client that ignores an idle or backpressure close
      // must not hold the socket longer than one that ignores a ping.
      closeTimeout: options.pongTimeout,
    };
    this.#wss = new WebSocketServer(serverOptions);
    this.#wss.on("headers", addAcceptedHeaders);
  }

  /**
   * Writes the 101 and calls `opened` with the WebSocket. `ws` does both synchronously, or destroys a
   * socket that is no longer readable and writable without calling `opened`.
   */
  complete(request: IncomingMessage, socket: Duplex, head: Buffer, protocol: string | null, headerLines: string[], opened: (ws: SocketLike) => void): void {
    const offered = request.headers["sec-websocket-extensions"];
    if (this.#deflate !== false && offered !== undefined) {
      const acceptable = acceptableOffers(offered, this.#deflate, this.#maxMessageSize);
      if (acceptable === undefined) delete request.headers["sec-websocket-extensions"];
      else request.headers["sec-websocket-extensions"] = acceptable;
    }
    (request as AcceptedRequest)[kAccepted] = { protocol, headerLines };
    this.#wss.handleUpgrade(request, socket, head, (ws: WebSocket) => opened(ws as unknown as SocketLike));
  }

  close(): void {
    this.#wss.close();
  }
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
