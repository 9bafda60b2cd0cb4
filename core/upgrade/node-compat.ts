/**
 * The parts of Node's HTTP server that routing an upgrade through a framework needs and Node does not
 * document: binding a `ServerResponse` to a socket (`assignSocket`/`detachSocket`, which frameworks'
 * WebSocket plugins use too) and the response a server is still writing on a socket
 * (`socket._httpMessage`, for requests pipelined before an upgrade). Each is probed once when this
 * module loads; where a probe fails, the fallback named below is used instead.
 * @module
 */
import { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { Duplex } from "node:stream";

/** What the probes found. */
export interface NodeHttpSupport {
  /**
   * `ServerResponse#assignSocket`/`detachSocket` work. Without them, upgrades cannot run through the
   * framework: routed upgrades are answered `500` and reported.
   */
  readonly bindResponse: boolean;
  /**
   * `socket._httpMessage` names the response in progress. Without it, an upgrade pipelined behind a
   * response still being written cannot wait for it: the connection is closed instead (RFC 9112
   * section 9.3.2 allows closing after the earlier responses; this may cut the earlier one short).
   */
  readonly responseInFlight: boolean;
}

/** The result of the start-up probes (run when this module loads). */
export let nodeHttp: NodeHttpSupport = probe();

/** @internal for tests of the fallbacks: replaces probe results; returns the function that restores them. */
export function overrideNodeHttpSupport(support: Partial<NodeHttpSupport>): () => void {
  const probed = nodeHttp;
  nodeHttp = Object.freeze({ ...probed, ...support });
  return () => void (nodeHttp = probed);
}

function probe(): NodeHttpSupport {
  let bindResponse = false;
  let responseInFlight = false;
  try {
    const socket = new Duplex({ read() {}, write: (_chunk, _encoding, callback) => callback() });
    const request = new IncomingMessage(socket as Socket);
    request.method = "GET";
    request.httpVersionMajor = 1;
    request.httpVersionMinor = 1;
    const response = new ServerResponse(request);
    if (typeof response.assignSocket === "function" && typeof response.detachSocket === "function") {
      response.assignSocket(socket as Socket);
      const assigned = messageOn(socket) === response;
      response.detachSocket(socket as Socket);
      bindResponse = response.socket === null;
      responseInFlight = assigned && messageOn(socket) === null;
    }
    socket.destroy();
  } catch {
    // Leave both false: the fallbacks apply.
  }
  return Object.freeze({ bindResponse, responseInFlight });
}

function messageOn(socket: Duplex): unknown {
  return (socket as Duplex & { _httpMessage?: unknown })._httpMessage;
}

/**
 * The response the HTTP server is still writing on `socket` for an earlier request of the same
 * connection; `null` when there is none; `undefined` when this Node cannot tell (see
 * {@link NodeHttpSupport.responseInFlight}).
 */
export function responseInFlight(socket: Duplex): ServerResponse | null | undefined {
  if (!nodeHttp.responseInFlight) return undefined;
  const message = messageOn(socket);
  return message instanceof ServerResponse ? message : null;
}

/**
 * A response for `request` bound to `socket`, without keep-alive: what the framework writes to while
 * it routes an upgrade request. Throws when the socket still carries another response.
 */
export function bindResponse(request: IncomingMessage, socket: Duplex): ServerResponse {
  const response = new ServerResponse(request);
  response.shouldKeepAlive = false;
  response.assignSocket(socket as Socket);
  return response;
}

/** Unbinds `response` from `socket` (the endpoint writes the 101 itself, or the upgrade ended). */
export function unbindResponse(response: ServerResponse, socket: Duplex): void {
  if (response.socket === socket) response.detachSocket(socket as Socket);
}

type PeerSocket = Socket & {
  _peername?: { address?: unknown };
  _handle?: { getpeername?(out: Record<string, unknown>): number } | null;
};

/** Unchecked until the first TCP socket, then whether `_handle.getpeername` answers as `remoteAddress` does. */
let peernameFromHandle: boolean | undefined;

/**
 * The socket's remote address. `socket.remoteAddress` caches the peer's name object on the socket for
 * its whole life (about 80 bytes per connection); the handle's `getpeername`, which that getter calls,
 * answers without caching. It is checked against `remoteAddress` on the first socket; when it is missing
 * or answers differently, `remoteAddress` is used.
 */
export function peerAddress(socket: Socket): string | undefined {
  const peer = socket as PeerSocket;
  const cached = peer._peername;
  if (cached !== undefined && typeof cached.address === "string") return cached.address;
  if (peernameFromHandle !== false) {
    const handle = peer._handle;
    if (handle != null && typeof handle.getpeername === "function") {
      const out: Record<string, unknown> = {};
      const address = handle.getpeername(out) === 0 && typeof out.address === "string" ? out.address : undefined;
      if (peernameFromHandle === true) return address;
      peernameFromHandle = address !== undefined && address === socket.remoteAddress;
      return socket.remoteAddress;
    }
  }
  return socket.remoteAddress;
}
