/**
 * Express 5 adapter: `app.get("/echo", ws.handler(onConnection))`, then `ws.attach(server)` once on
 * the server that `app.listen()` returned. Express middleware (auth, cookies, sessions) runs before
 * the 101; whatever it answers reaches the client as a real HTTP response.
 * @module
 */
import type { NextFunction, Request, RequestHandler, Response } from "express";
import {
  Endpoint,
  requireFunction,
  createClientScript,
  type ClientScriptOptions,
  type ConnectionHandler,
  type DefaultEventMap,
  type EndpointOptions,
  type EventMap,
} from "../core/index.js";

/** A WebSocket endpoint for Express routes. */
export class ExpressWebSocket<Data = unknown, In extends EventMap = DefaultEventMap, Out extends EventMap = DefaultEventMap> extends Endpoint<Data, In, Out> {
  /**
   * A terminal route handler that upgrades the request and calls `onConnection(connection, req)`.
   * A plain GET (no upgrade) gets `426 Upgrade Required`.
   */
  handler(onConnection: ConnectionHandler<Data, Request, In, Out>): RequestHandler {
    requireFunction(onConnection, "handler(onConnection)");
    return (req: Request, res: Response, _next: NextFunction) => {
      if (this.accept(req, { onConnection, context: req, params: req.params as Record<string, string> })) return;
      const answer = this.plainResponse(req);
      res.status(answer.status).set(answer.headers).type("text/plain").send(answer.body);
    };
  }
}

/** Creates a WebSocket endpoint for Express. */
export function websocket<Data = unknown, In extends EventMap = DefaultEventMap, Out extends EventMap = DefaultEventMap>(
  options?: EndpointOptions<Data>,
): ExpressWebSocket<Data, In, Out> {
  return new ExpressWebSocket<Data, In, Out>(options);
}

/**
 * A route handler serving the browser build of `wsmount/client`: `app.get("/wsmount.js", clientScript())`.
 * JavaScript with an ETag, `Cache-Control: no-cache` (revalidate: a `304` without a body) and gzip when the
 * browser accepts it; built once, when this is called. See {@link ClientScriptOptions}.
 */
export function clientScript(options?: ClientScriptOptions): RequestHandler {
  const script = createClientScript(options);
  return (req: Request, res: Response) => script.serve(req, res);
}

export * from "../core/index.js";
