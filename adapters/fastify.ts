/**
 * Fastify 5 plugin: `await app.register(websocket, options)`, then
 * `app.get("/echo", { websocket: true }, (connection, request) => ...)`. The `onRequest`,
 * `preParsing`, `preValidation` and `preHandler` hooks run before the 101; a reply they send reaches
 * the client as a real HTTP response. `app.close()` closes the connections gracefully.
 * @module
 */
import type {
  ContextConfigDefault,
  FastifyBaseLogger,
  FastifyInstance,
  FastifyPluginAsync,
  FastifyReply,
  FastifyRequest,
  FastifySchema,
  FastifyTypeProvider,
  FastifyTypeProviderDefault,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerBase,
  RawServerDefault,
  RequestGenericInterface,
  RouteOptions,
} from "fastify";
import { subscribe } from "node:diagnostics_channel";
import {
  Endpoint,
  createClientScript,
  type ClientScriptOptions,
  type Connection,
  type DefaultEventMap,
  type EndpointOptions,
  type EventMap,
  type Logger,
} from "../core/index.js";

/**
 * The types of the endpoint that the plugin gives every Fastify instance, set once for the application by
 * declaration merging (as `@fastify/jwt` does for its payload):
 *
 * ```ts
 * declare module "wsmount/fastify" {
 *   interface FastifyWebSocketTypes {
 *     data: { user: string };         // conn.data, and what the `authenticate` option returns as `data`
 *     clientEvents: ClientEvents;     // the events clients send: conn.on(...)
 *     serverEvents: ServerEvents;     // the events the server emits: conn.emit(...), app.websocket.to(...).emit(...)
 *   }
 * }
 * ```
 * Each key is optional; without it the type is `unknown` (data) or any event with any data (events), as on
 * the other adapters without type arguments.
 */
export interface FastifyWebSocketTypes {}

/** The session data of Fastify connections: `FastifyWebSocketTypes["data"]`, else `unknown`. */
export type FastifySessionData = FastifyWebSocketTypes extends { data: infer Data } ? Data : unknown;
/** The events Fastify clients send: `FastifyWebSocketTypes["clientEvents"]`, else any. */
export type FastifyClientEvents = FastifyWebSocketTypes extends { clientEvents: infer In extends EventMap } ? In : DefaultEventMap;
/** The events the Fastify endpoint emits: `FastifyWebSocketTypes["serverEvents"]`, else any. */
export type FastifyServerEvents = FastifyWebSocketTypes extends { serverEvents: infer Out extends EventMap } ? Out : DefaultEventMap;

/** A connection of a `{ websocket: true }` route, typed by {@link FastifyWebSocketTypes}. */
export type FastifyConnection = Connection<FastifySessionData, FastifyClientEvents, FastifyServerEvents>;

/**
 * The connection handler of a `{ websocket: true }` route: the connection (typed by
 * {@link FastifyWebSocketTypes}) and the Fastify request (typed by the route's generics, e.g. `Params`).
 */
export type WebSocketRouteHandler<
  RawServer extends RawServerBase = RawServerDefault,
  RawRequest extends RawRequestDefaultExpression<RawServer> = RawRequestDefaultExpression<RawServer>,
  RequestGeneric extends RequestGenericInterface = RequestGenericInterface,
  ContextConfig = ContextConfigDefault,
  SchemaCompiler extends FastifySchema = FastifySchema,
  TypeProvider extends FastifyTypeProvider = FastifyTypeProviderDefault,
  Logger extends FastifyBaseLogger = FastifyBaseLogger,
> = (
  this: FastifyInstance,
  connection: FastifyConnection,
  request: FastifyRequest<RequestGeneric, RawServer, RawRequest, SchemaCompiler, TypeProvider, ContextConfig, Logger>,
) => unknown;

declare module "fastify" {
  interface RouteShorthandOptions {
    /** Serve this GET route as a WebSocket endpoint. */
    websocket?: boolean;
  }

  interface FastifyInstance {
    /** The WebSocket endpoint of this instance (typed by `FastifyWebSocketTypes`): rooms, sessions, stats, close. */
    websocket: FastifyWebSocket;
  }

  interface RouteShorthandMethod<
    RawServer extends RawServerBase = RawServerDefault,
    RawRequest extends RawRequestDefaultExpression<RawServer> = RawRequestDefaultExpression<RawServer>,
    RawReply extends RawReplyDefaultExpression<RawServer> = RawReplyDefaultExpression<RawServer>,
    TypeProvider extends FastifyTypeProvider = FastifyTypeProviderDefault,
    Logger extends FastifyBaseLogger = FastifyBaseLogger,
  > {
    <RequestGeneric extends RequestGenericInterface = RequestGenericInterface, ContextConfig = ContextConfigDefault, SchemaCompiler extends FastifySchema = FastifySchema, InnerLogger extends Logger = Logger>(
      path: string,
      options: RouteShorthandOptions<RawServer, RawRequest, RawReply, RequestGeneric, ContextConfig, SchemaCompiler, TypeProvider, InnerLogger> & { websocket: true },
      handler: WebSocketRouteHandler<RawServer, RawRequest, RequestGeneric, ContextConfig, SchemaCompiler, TypeProvider, InnerLogger>,
    ): FastifyInstance<RawServer, RawRequest, RawReply, InnerLogger, TypeProvider>;
  }
}

/**
 * The endpoint a Fastify instance gets from the plugin (`app.websocket`). Its type arguments default to
 * those set in {@link FastifyWebSocketTypes}, as `Data`, `In` and `Out` of the other adapters' endpoints.
 */
export class FastifyWebSocket<
  Data = FastifySessionData,
  In extends EventMap = FastifyClientEvents,
  Out extends EventMap = FastifyServerEvents,
> extends Endpoint<Data, In, Out> {}

/** Plugin options: the endpoint options, with `authenticate` typed by {@link FastifyWebSocketTypes}. */
export type FastifyWebSocketOptions<Data = FastifySessionData> = EndpointOptions<Data>;

const plugin: FastifyPluginAsync<FastifyWebSocketOptions> = async (fastify, options) => {
  // Fastify's own register options reach the plugin too: they are not the endpoint's.
  const {
    prefix: _prefix,
    logLevel: _logLevel,
    logSerializers: _logSerializers,
    ...endpointOptions
  } = options as FastifyWebSocketOptions & { prefix?: unknown; logLevel?: unknown; logSerializers?: unknown };
  // Faults nobody handles go to the instance's logger unless the application chose a logger itself.
  const endpoint: FastifyWebSocket = new FastifyWebSocket(
    endpointOptions.logger === undefined ? { ...endpointOptions, logger: fastifyLogger(fastify.log) } : endpointOptions,
  );
  fastify.decorate("websocket", endpoint);
  fastify.addHook("onRoute", (route) => {
    if ((route as RouteOptions & { websocket?: boolean }).websocket === true) wrapRoute(endpoint, route);
  });
  fastify.addHook("preClose", async () => {
    await endpoint.close();
  });
  endpoint.attach(fastify.server);
};

// A `{ websocket: true }` route declared before the plugin is registered on its instance (or after a
// `register` that was not awaited) is never seen by the plugin's onRoute hook, since Fastify runs those
// hooks as each route is declared: it would serve the connection handler as an HTTP handler, and fail on
// the first request far from the cause. Fastify announces every new instance on its
// `fastify.initialization` diagnostics channel; there each one gets a hook that refuses such a route as it
// is declared. Instances where @fastify/websocket is registered (`websocketServer`) are left alone: the
// option is its too.
subscribe("fastify.initialization", onFastifyCreated);

function onFastifyCreated(message: unknown): void {
  const instance = (message as { fastify?: FastifyInstance } | null)?.fastify;
  if (instance !== undefined && typeof instance.addHook === "function") instance.addHook("onRoute", refuseEarlyRoute);
}

function refuseEarlyRoute(this: FastifyInstance, route: RouteOptions): void {
  if ((route as RouteOptions & { websocket?: unknown }).websocket !== true) return;
  if (this.hasDecorator("websocket") || this.hasDecorator("websocketServer")) return;
  const methods = Array.isArray(route.method) ? route.method.join(",") : route.method;
  throw new TypeError(
    `wsmount: the { websocket: true } route ${methods} ${route.url} was declared before the wsmount plugin was registered on this Fastify instance; ` +
      'register it first, and wait for it: await app.register(websocket) (import websocket from "wsmount/fastify"), then declare the route',
  );
}

function fastifyLogger(log: FastifyBaseLogger): Logger {
  return {
    error: (message, error) => log.error({ err: error }, message),
    warn: (message) => log.warn(message),
  };
}

function wrapRoute(endpoint: FastifyWebSocket, route: RouteOptions): void {
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  if (methods.some((method) => method !== "GET" && method !== "HEAD")) {
    throw new TypeError(`wsmount: { websocket: true } routes must be GET routes; ${route.url} is ${methods.join(", ")}`);
  }
  const onConnection = route.handler as unknown as WebSocketRouteHandler;
  // `request.server` is the instance the route belongs to: the `this` Fastify gives route handlers.
  const callHandler = (connection: FastifyConnection, request: FastifyRequest) => onConnection.call(request.server, connection, request);
  route.handler = function (request: FastifyRequest, reply: FastifyReply) {
    const match = {
      onConnection: callHandler,
      context: request,
      params: request.params as Record<string, string>,
      // Fastify keeps reply.header() values off the raw response until it sends.
      headers: reply.getHeaders(),
    };
    if (endpoint.accept(request.raw, match)) {
      reply.hijack();
      return;
    }
    const answer = endpoint.plainResponse(request.raw);
    return reply.code(answer.status).headers(answer.headers).type("text/plain; charset=utf-8").send(answer.body);
  };
}

// The fastify-plugin conventions, without the dependency: skip encapsulation so `app.websocket` and
// the onRoute hook apply to the instance that registers the plugin.
Object.assign(plugin, {
  [Symbol.for("skip-override")]: true,
  [Symbol.for("fastify.display-name")]: "wsmount",
  [Symbol.for("plugin-meta")]: { name: "wsmount", fastify: "5.x" },
});

/**
 * A route handler serving the browser build of `wsmount/client`: `app.get("/wsmount.js", clientScript())`
 * (Fastify answers `HEAD` with it too). JavaScript with an ETag, `Cache-Control: no-cache` (revalidate: a
 * `304` without a body) and gzip when the browser accepts it; built once, when this is called.
 */
export function clientScript(options?: ClientScriptOptions): (request: FastifyRequest, reply: FastifyReply) => FastifyReply {
  const script = createClientScript(options);
  return (request, reply) => {
    const answer = script.respond(request.raw);
    reply.code(answer.status).headers(answer.headers);
    return answer.body === null ? reply.send() : reply.send(answer.body);
  };
}

/** The wsmount Fastify plugin. */
export const websocket = plugin;
export default plugin;

export * from "../core/index.js";
