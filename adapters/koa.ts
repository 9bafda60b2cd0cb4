/**
 * Koa adapter: `router.get("/echo", ws.handler(onConnection))` with `@koa/router`, or
 * `app.use(ws.middleware("/echo", onConnection))` on a plain Koa stack; then `ws.attach(server)`
 * once on the server that `app.listen()` returned. Koa middleware runs before the 101; what it
 * answers (`ctx.throw(401)`, `ctx.status = 403`) reaches the client as a real HTTP response.
 * @module
 */
import type { Context, Middleware, Next } from "koa";
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

/** A WebSocket endpoint for Koa. */
export class KoaWebSocket<Data = unknown, In extends EventMap = DefaultEventMap, Out extends EventMap = DefaultEventMap> extends Endpoint<Data, In, Out> {
  /**
   * Route middleware (for `@koa/router`) that upgrades the request and calls
   * `onConnection(connection, ctx)`. A plain GET gets `426 Upgrade Required`.
   */
  handler(onConnection: ConnectionHandler<Data, Context, In, Out>): Middleware {
    requireFunction(onConnection, "handler(onConnection)");
    return (ctx: Context) => this.#serve(ctx, onConnection);
  }

  /**
   * Middleware for a plain Koa stack: requests for `path` are WebSocket requests, the rest go on to
   * the next middleware.
   */
  middleware(path: string, onConnection: ConnectionHandler<Data, Context, In, Out>): Middleware {
    requirePath(path, "middleware(path)");
    requireFunction(onConnection, "middleware(path, onConnection)");
    return (ctx: Context, next: Next) => (ctx.path === path ? this.#serve(ctx, onConnection) : next());
  }

  #serve(ctx: Context, onConnection: ConnectionHandler<Data, Context, In, Out>): void {
    const params = (ctx as Context & { params?: Record<string, string> }).params;
    if (this.accept(ctx.req, { onConnection, context: ctx, params })) {
      // Koa's documented way to leave the response alone: the endpoint owns the socket now.
      ctx.respond = false;
      return;
    }
    const answer = this.plainResponse(ctx.req);
    ctx.status = answer.status;
    ctx.set(answer.headers);
    ctx.body = answer.body;
  }
}

/** Creates a WebSocket endpoint for Koa. */
export function websocket<Data = unknown, In extends EventMap = DefaultEventMap, Out extends EventMap = DefaultEventMap>(
  options?: EndpointOptions<Data>,
): KoaWebSocket<Data, In, Out> {
  return new KoaWebSocket<Data, In, Out>(options);
}

/** Options of the Koa {@link clientScript}. */
export interface KoaClientScriptOptions extends ClientScriptOptions {
  /**
   * Serve only requests for this exact path and pass the others on (for a plain Koa stack). Without it,
   * every request that reaches the middleware is answered (for a router route).
   */
  path?: string;
}

/**
 * Middleware serving the browser build of `wsmount/client`: `router.get("/wsmount.js", clientScript())`, or
 * `app.use(clientScript({ path: "/wsmount.js" }))`. JavaScript with an ETag, `Cache-Control: no-cache`
 * (revalidate: a `304` without a body) and gzip when the browser accepts it; built once, when this is called.
 */
export function clientScript(options: KoaClientScriptOptions = {}): Middleware {
  const { path, ...scriptOptions } = options;
  if (path !== undefined) requirePath(path, 'option "path"');
  const script = createClientScript(scriptOptions);
  return (ctx: Context, next: Next) => {
    if (path !== undefined && ctx.path !== path) return next();
    const answer = script.respond(ctx.req);
    ctx.status = answer.status;
    ctx.set(answer.headers as Record<string, string>);
    ctx.body = answer.body;
    return undefined;
  };
}

export * from "../core/index.js";
