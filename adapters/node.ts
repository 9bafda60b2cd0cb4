/**
 * node:http adapter, for a server without a framework:
 * `ws.attach(server, { path: "/echo" }, onConnection)`.
 * @module
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import {
  Endpoint,
  requireFunction,
  requirePath,
  createClientScript,
  type ClientScriptOptions,
  type ConnectionHandler,
  type DefaultEventMap,
  type EndpointOptions,
  type EventMap,
} from "../core/index.js";
import { requireServer } from "../core/server-argument.js";

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
    requireServer(server, "ws.attach(server, { path }, onConnection)");
    if (typeof mount === "string") {
      throw new TypeError(`wsmount: ws.attach(server, { path }, onConnection) takes the path in an object: ws.attach(server, { path: ${JSON.stringify(mount)} }, onConnection)`);
    }
    if (typeof mount === "function") {
      throw new TypeError('wsmount: ws.attach(server, { path }, onConnection) takes the path before the handler: ws.attach(server, { path: "/echo" }, onConnection)');
    }
    if (mount === undefined || mount === null || !("path" in mount)) return super.attach(server, mount ?? undefined);
    requirePath(mount.path, 'option "path"');
    requireFunction(onConnection, "attach(server, { path }, onConnection)");
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

/** Options of the node:http {@link clientScript}. */
export interface NodeClientScriptOptions extends ClientScriptOptions {
  /** Serve only requests for this exact path (the query is ignored). Without it, every request is answered. */
  path?: string;
}

/**
 * A request handler serving the browser build of `wsmount/client`; it returns `true` when it answered:
 * `const serveClient = clientScript({ path: "/wsmount.js" });` then, in the server's request listener,
 * `if (serveClient(req, res)) return;`. JavaScript with an ETag, `Cache-Control: no-cache` (revalidate: a
 * `304` without a body) and gzip when the browser accepts it; built once, when this is called.
 */
export function clientScript(options: NodeClientScriptOptions = {}): (request: IncomingMessage, response: ServerResponse) => boolean {
  const { path, ...scriptOptions } = options;
  if (path !== undefined) requirePath(path, 'option "path"');
  const script = createClientScript(scriptOptions);
  return (request, response) => {
    if (path !== undefined && pathOf(request.url) !== path) return false;
    script.serve(request, response);
    return true;
  };
}

function pathOf(url: string | undefined): string {
  if (url === undefined) return "/";
  const query = url.indexOf("?");
  return query === -1 ? url : url.slice(0, query);
}

export * from "../core/index.js";
