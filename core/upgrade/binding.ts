/**
 * One `'upgrade'` listener per HTTP server. It opens an {@link UpgradeAttempt} for every upgrade request
 * and decides where it goes: straight to an endpoint mounted on its path (node:http), through the
 * framework's request handler (Express, Koa, Fastify), to the server's other `'upgrade'` listeners, or
 * a `404`. Nothing thrown on the way leaves the listener.
 * @module
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { ErrorCode, WsmountError } from "../errors.js";
import { THREW, callSync } from "../guard.js";
import { UpgradeAttempt, handlerFailed, internal, reportToAll, type ErrorSink } from "./attempt.js";
import { isWebSocketUpgrade, pathnameOf } from "./handshake.js";
import { nodeHttp } from "./node-compat.js";

/** What an endpoint attached to a server contributes to it. */
export interface Attachment extends ErrorSink {
  readonly handshakeTimeout: number;
  /** Only requests for which this returns true are routed through the framework. */
  readonly shouldHandle?: ((request: IncomingMessage) => boolean) | undefined;
}

/** Something that takes over upgrade requests for a mounted path (the node:http style). */
export interface PathHandler extends Attachment {
  handleUpgrade(attempt: UpgradeAttempt): void;
}

type RequestHandler = (request: IncomingMessage, response: ServerResponse) => void;

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
    this.#routed.delete(owner);
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
    let attempt: UpgradeAttempt | null = null;
    try {
      attempt = new UpgradeAttempt(request, socket, head);
      this.#dispatch(attempt);
    } catch (error) {
      if (attempt === null) {
        socket.destroy();
        reportToAll(this.#everyone(), internal("serving an upgrade request failed", error));
      } else {
        attempt.start(this.#longestTimeout(), this.#everyone());
        attempt.fail(error);
      }
    }
  }

  #dispatch(attempt: UpgradeAttempt): void {
    const request = attempt.request;
    const pathHandler = isWebSocketUpgrade(request) ? this.#paths.get(pathnameOf(request.url)) : undefined;
    if (pathHandler !== undefined) {
      attempt.start(pathHandler.handshakeTimeout, [pathHandler]);
      attempt.afterEarlierResponses(() => pathHandler.handleUpgrade(attempt));
      return;
    }

    const routed: Attachment[] = [];
    let timeout = 0;
    for (const attachment of this.#routed) {
      if (attachment.shouldHandle !== undefined) {
        const wanted = callSync((error) => attachment.reportError(handlerFailed("shouldHandle", error)), attachment.shouldHandle, request);
        if (wanted === THREW) {
          attempt.start(attachment.handshakeTimeout, NO_SINKS);
          attempt.answer(500, "Internal Server Error");
          return;
        }
        // Anything but a synchronous `true` (a promise included) leaves the request to others.
        if (wanted !== true) continue;
      }
      routed.push(attachment);
      timeout = Math.max(timeout, attachment.handshakeTimeout);
    }

    const shared = this.#server.listenerCount("upgrade") > 1;
    const handlers = this.#server.listeners("request") as RequestHandler[];
    if (routed.length === 0 || handlers.length === 0) {
      // Not ours: leave it to the other 'upgrade' listeners (under a deadline), or refuse it if there are none.
      attempt.start(this.#longestTimeout(), NO_SINKS);
      if (shared) attempt.release();
      else attempt.afterEarlierResponses(() => attempt.answer(404, "Not Found"));
      return;
    }
    attempt.start(timeout, routed);
    if (!nodeHttp.bindResponse) {
      attempt.fail(new WsmountError(ErrorCode.INTERNAL, "wsmount: this Node version cannot bind a response to an upgrade socket (ServerResponse#assignSocket); upgrades cannot run through the framework"));
      return;
    }
    attempt.afterEarlierResponses(() => attempt.route(this.#server, handlers, shared));
  }

  #everyone(): Attachment[] {
    return [...this.#routed, ...this.#paths.values()];
  }

  #longestTimeout(): number {
    let timeout = 0;
    for (const attachment of this.#everyone()) timeout = Math.max(timeout, attachment.handshakeTimeout);
    return timeout > 0 ? timeout : DEFAULT_TIMEOUT;
  }
}

const NO_SINKS: readonly ErrorSink[] = [];
const DEFAULT_TIMEOUT = 10_000;
