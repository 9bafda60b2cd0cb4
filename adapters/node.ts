/**
 * node:http adapter, for a server without a framework:
 * `ws.attach(server, { path: "/echo" }, onConnection)`.
 * @module
 */
import type { IncomingMessage, Server } from "node:http";
import { Endpoint, type ConnectionHandler, type DefaultEventMap, type EndpointOptions, type EventMap } from "../core/index.js";

/** Options of {@link NodeWebSocket.attach}. */
export interface MountOptions {
  /** The exact path (no query) the endpoint answers on, e.g. `"/echo"`. */
  path: string;
}

/** A WebSocket endpoint for a plain `node:http` server. */
export class NodeWebSocket<Data = unknown, In extends EventMap = DefaultEventMap, Out extends EventMap = DefaultEventMap> extends Endpoint<Data, In, Out> {
  /**
   * Serves WebSocket upgrades for `mount.path` on `server`, calling `onConnection(connection, request)`.
   * Upgrade requests for other paths go to the server's other `'upgrade'` listeners, or else to its
   * request handler. Without `mount`, behaves as {@link Endpoint.attach}.
   */
  override attach(server: Server, mount?: MountOptions | Parameters<Endpoint<Data, In, Out>["attach"]>[1], onConnection?: ConnectionHandler<Data, IncomingMessage, In, Out>): this {
    if (mount === undefined || !("path" in mount)) return super.attach(server, mount);
    if (typeof mount.path !== "string" || !mount.path.startsWith("/")) throw new TypeError(`wsmount: option "path" must be a path starting with "/"; got ${String(mount.path)}`);
    if (typeof onConnection !== "function") throw new TypeError(`wsmount: attach(server, { path }, onConnection) needs a function; got ${typeof onConnection}`);
    this.mountPath(server, mount.path, onConnection, (request) => request);
    return this;
  }
}

/** Creates a WebSocket endpoint for `node:http`. */
export function websocket<Data = unknown, In extends EventMap = DefaultEventMap, Out extends EventMap = DefaultEventMap>(
  options?: EndpointOptions<Data>,
): NodeWebSocket<Data, In, Out> {
  return new NodeWebSocket<Data, In, Out>(options);
}

export * from "../core/index.js";
