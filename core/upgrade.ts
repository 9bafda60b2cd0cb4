/**
 * The only code that touches the raw socket before the 101: one `'upgrade'` listener per HTTP server,
 * which either hands a request straight to an endpoint mounted on its path, or runs it through the
 * framework's own request handler on a response bound to the socket, so that middleware runs before
 * the upgrade and its rejections reach the client as real HTTP responses.
 * @module
 */
import { STATUS_CODES, ServerResponse, type IncomingMessage, type Server } from "node:http";
import type { Duplex } from "node:stream";
import type { Socket } from "node:net";
import { isWebSocketUpgrade, pathnameOf } from "./handshake.js";

const kPending = Symbol("wsmount.pendingUpgrade");
/**
 * The pending upgrade of each socket still in its handshake. A map rather than a property on the
 * socket, which would stay on it (and take room) for the WebSocket's whole life.
 */
const pendingBySocket = new Map<Duplex, PendingUpgrade>();

/** Where a pending upgrade stands. */
export const UpgradeState = {
  /** Running through framework middleware; the response is bound to the socket. */
  Routing: 0,
  /** Claimed by an endpoint; handshake checks and `authenticate` are running. */
  Claimed: 1,
  /** Answered (101 or an HTTP response), timed out, or the socket closed. */
  Done: 2,
  /** Left to another `'upgrade'` listener. */
  Released: 3,
} as const;
export type UpgradeState = (typeof UpgradeState)[keyof typeof UpgradeState];

/** An upgrade request between the `'upgrade'` event and the 101 (or its refusal). */
export interface PendingUpgrade {
  readonly socket: Duplex;
  readonly head: Buffer;
  state: UpgradeState;
  /** The response the framework writes to, while routing. */
  response: ServerResponse | null;
  timer: NodeJS.Timeout | null;
  /** Called when the handshake times out after an endpoint claimed it (for its stats). */
  onTimeout: (() => void) | null;
}

/** What an endpoint attached to a server contributes to it. */
export interface Attachment {
  readonly handshakeTimeout: number;
  /** Only requests for which this returns true are routed through the framework. */
  readonly shouldHandle?: ((request: IncomingMessage) => boolean) | undefined;
  /** Receives an error thrown by the framework's request handler while routing an upgrade. */
  reportError(error: unknown): void;
}

/** Something that takes over upgrade requests for a mounted path (the node:http style). */
export interface PathHandler extends Attachment {
  handleUpgrade(request: IncomingMessage, pending: PendingUpgrade): void;
}

/** The pending upgrade of a request, if it came through a wsmount `'upgrade'` listener. */
export function pendingUpgradeOf(request: IncomingMessage): PendingUpgrade | undefined {
  return (request as IncomingMessage & { [kPending]?: PendingUpgrade })[kPending];
}

const bindings = new WeakMap<Server, ServerBinding>();

/** The binding of `server`, created (and its `'upgrade'` listener added) on first use. */
export function bindingOf(server: Server): ServerBinding {
  let binding = bindings.get(server);
  if (binding === undefined) {
    binding = new ServerBinding(server);
    bindings.set(server, binding);
  }
  return binding;
}

/** One HTTP server's `'upgrade'` listener and what is attached to it. */
export class ServerBinding {
  readonly #server: Server;
  readonly #routed = new Set<Attachment>();
  readonly #paths = new Map<string, PathHandler>();
  readonly #listener = (request: IncomingMessage, socket: Duplex, head: Buffer) => this.#onUpgrade(request, socket, head);
  #listening = false;

  constructor(server: Server) {
    this.#server = server;
  }

  /** Routes upgrade requests through the server's request handler (Express, Koa, Fastify). */
  addRouted(attachment: Attachment): void {
    this.#routed.add(attachment);
    this.#listen();
  }

  /** Sends upgrade requests for `path` straight to `handler`. */
  addPath(path: string, handler: PathHandler): void {
    if (this.#paths.has(path)) throw new Error(`wsmount: a WebSocket endpoint is already mounted on ${path}`);
    this.#paths.set(path, handler);
    this.#listen();
  }

  /** Removes what `owner` attached; the listener goes once nothing is left. */
  remove(owner: Attachment | PathHandler): void {
    this.#routed.delete(owner as Attachment);
    for (const [path, handler] of this.#paths) if (handler === owner) this.#paths.delete(path);
    if (this.#routed.size === 0 && this.#paths.size === 0 && this.#listening) {
      this.#server.removeListener("upgrade", this.#listener);
      this.#listening = false;
      bindings.delete(this.#server);
    }
  }

  #listen(): void {
    if (this.#listening) return;
    this.#server.on("upgrade", this.#listener);
    this.#listening = true;
  }

  #onUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Node removed its own 'error' listener before emitting 'upgrade': without ours, a reset during
    // async middleware would be an uncaught exception.
    socket.on("error", destroyOnError);
    const pending: PendingUpgrade = { socket, head, state: UpgradeState.Routing, response: null, timer: null, onTimeout: null };

    const pathHandler = isWebSocketUpgrade(request) ? this.#paths.get(pathnameOf(request.url)) : undefined;
    if (pathHandler !== undefined) {
      track(request, pending, pathHandler.handshakeTimeout);
      pending.state = UpgradeState.Claimed;
      pathHandler.handleUpgrade(request, pending);
      return;
    }

    const shared = this.#server.listenerCount("upgrade") > 1;
    const routed: Attachment[] = [];
    let timeout = 0;
    for (const attachment of this.#routed) {
      if (attachment.shouldHandle !== undefined && !attachment.shouldHandle(request)) continue;
      routed.push(attachment);
      timeout = Math.max(timeout, attachment.handshakeTimeout);
    }
    const handlers = this.#server.listeners("request") as Array<(req: IncomingMessage, res: ServerResponse) => void>;
    if (routed.length === 0 || handlers.length === 0) {
      // Not ours: leave it to the other 'upgrade' listeners, or refuse it if there are none.
      if (!shared) writeResponse(socket, 404, {}, "Not Found");
      return;
    }

    track(request, pending, timeout);
    const response = createUpgradeResponse(request, shared);
    pending.response = response;
    response.assignSocket(socket as Socket);
    response.on("finish", responseOnFinish);
    try {
      for (const handler of handlers) handler.call(this.#server, request, response);
    } catch (error) {
      if (pending.state === UpgradeState.Routing) {
        finishPending(pending);
        writeResponse(socket, 500, {}, "Internal Server Error");
      }
      for (const attachment of routed) attachment.reportError(error);
    }
  }
}

/**
 * The response the framework writes to while it routes an upgrade request: a `ServerResponse` bound to
 * the socket, without keep-alive. When another `'upgrade'` listener shares the server and the
 * framework finds no route (404), the socket is released to that listener instead of answered.
 */
function createUpgradeResponse(request: IncomingMessage, shared: boolean): ServerResponse {
  const response = new ServerResponse(request);
  response.shouldKeepAlive = false;
  // An own property, because Express replaces the response's prototype with its own.
  if (shared) response.writeHead = writeHeadOrRelease as ServerResponse["writeHead"];
  return response;
}

function writeHeadOrRelease(this: ServerResponse, statusCode: number, ...rest: unknown[]): ServerResponse {
  const pending = pendingUpgradeOf(this.req);
  if (statusCode === 404 && pending !== undefined && pending.state === UpgradeState.Routing) releasePending(pending);
  const writeHead = Object.getPrototypeOf(this).writeHead as (this: ServerResponse, ...args: unknown[]) => ServerResponse;
  return writeHead.call(this, statusCode, ...rest);
}

function track(request: IncomingMessage, pending: PendingUpgrade, timeout: number): void {
  (request as IncomingMessage & { [kPending]?: PendingUpgrade })[kPending] = pending;
  pendingBySocket.set(pending.socket, pending);
  // `on`, not `once`: finishPending removes it, and a plain listener is cheaper to add and to find.
  pending.socket.on("close", socketOnClose);
  pending.timer = setTimeout(onHandshakeTimeout, timeout, pending);
}

/** Takes the socket away from the framework's response so the endpoint can write the 101 itself. */
export function claimPending(pending: PendingUpgrade): Headers | null {
  const response = pending.response;
  pending.state = UpgradeState.Claimed;
  if (response === null) return null;
  pending.response = null;
  response.removeListener("finish", responseOnFinish);
  const headers = response.getHeaders();
  response.detachSocket(pending.socket as Socket);
  // For the framework the HTTP exchange is over: 'finish' releases the listeners that on-finished
  // (Koa, Express middleware) put on the socket, which would otherwise report the WebSocket's later
  // socket errors as request errors and keep the request context alive as long as the connection.
  response.statusCode = 101;
  response.emit("finish");
  return headers as Headers;
}

type Headers = Record<string, string | number | readonly string[] | undefined>;

/** Marks the upgrade done (101 written or refused) and drops the wsmount listeners from its socket. */
export function finishPending(pending: PendingUpgrade): void {
  pending.state = UpgradeState.Done;
  if (pending.timer !== null) clearTimeout(pending.timer);
  pending.timer = null;
  pending.socket.removeListener("close", socketOnClose);
  pendingBySocket.delete(pending.socket);
  const response = pending.response;
  if (response !== null) {
    pending.response = null;
    response.removeListener("finish", responseOnFinish);
    response.detachSocket(pending.socket as Socket);
  }
}

/** After a successful 101, `ws` guards the socket itself. */
export function releaseSocketGuard(socket: Duplex): void {
  socket.removeListener("error", destroyOnError);
}

function releasePending(pending: PendingUpgrade): void {
  finishPending(pending);
  pending.state = UpgradeState.Released;
  // The response corked the socket in end() before writeHead; detached, it would never uncork it.
  const socket = pending.socket as Socket;
  while (socket.writableCorked > 0) socket.uncork();
}

/**
 * Refuses a handshake with a complete HTTP/1.1 response (status line, `Connection: close`, byte-exact
 * `Content-Length`, body), then closes the socket.
 */
export function writeResponse(
  socket: Duplex,
  status: number,
  headers: Record<string, string | number | readonly string[]>,
  body: string | Uint8Array,
): void {
  if (!socket.writable || socket.destroyed) {
    socket.destroy();
    return;
  }
  const payload = typeof body === "string" ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Error"}\r\nConnection: close\r\n`;
  let hasType = false;
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (lower === "connection" || lower === "content-length" || lower === "transfer-encoding") continue;
    if (lower === "content-type") hasType = true;
    for (const item of Array.isArray(value) ? value : [value]) head += `${name}: ${String(item).replace(/[\r\n]/g, "")}\r\n`;
  }
  if (!hasType && payload.length > 0) head += "Content-Type: text/plain; charset=utf-8\r\n";
  head += `Content-Length: ${payload.length}\r\n\r\n`;
  socket.once("finish", destroySocket);
  socket.end(Buffer.concat([Buffer.from(head, "latin1"), payload]));
}

function onHandshakeTimeout(pending: PendingUpgrade): void {
  if (pending.state !== UpgradeState.Routing && pending.state !== UpgradeState.Claimed) return;
  pending.timer = null;
  finishPending(pending);
  pending.onTimeout?.();
  writeResponse(pending.socket, 503, { "Retry-After": "1" }, "WebSocket handshake timed out");
}

function responseOnFinish(this: ServerResponse): void {
  const socket = this.socket;
  const pending = socket ? pendingBySocket.get(socket) : undefined;
  if (pending !== undefined && pending.state === UpgradeState.Routing) {
    finishPending(pending);
    // The framework answered instead of upgrading: that response is the whole exchange.
    pending.socket.once("finish", destroySocket);
    pending.socket.end();
  }
}

function socketOnClose(this: Duplex): void {
  const pending = pendingBySocket.get(this);
  if (pending !== undefined && pending.state !== UpgradeState.Done && pending.state !== UpgradeState.Released) finishPending(pending);
}

function destroyOnError(this: Duplex): void {
  this.destroy();
}

function destroySocket(this: Duplex): void {
  this.destroy();
}
