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
import { Endpoint, createClientScript, type ClientScriptOptions, type Connection, type EndpointOptions, type Logger } from "../core/index.js";

/** The connection handler of a `{ websocket: true }` route. */
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
  connection: Connection,
  request: FastifyRequest<RequestGeneric, RawServer, RawRequest, SchemaCompiler, TypeProvider, ContextConfig, Logger>,
) => unknown;

declare module "fastify" {
  interface RouteShorthandOptions {
    /** Serve this GET route as a WebSocket endpoint. */
    websocket?: boolean;
  }

  interface FastifyInstance {
    /** The WebSocket endpoint of this instance: sessions, stats, close. */
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

/** The endpoint a Fastify instance gets from the plugin (`app.websocket`). */
export class FastifyWebSocket<Data = unknown> extends Endpoint<Data> {}

/** Plugin options: the endpoint options. */
export type FastifyWebSocketOptions = EndpointOptions<any>;

const plugin: FastifyPluginAsync<FastifyWebSocketOptions> = async (fastify, options) => {
  const { prefix: _prefix, logLevel: _logLevel, ...endpointOptions } = options as FastifyWebSocketOptions & { prefix?: unknown; logLevel?: unknown };
  // Faults nobody handles go to the instance's logger unless the application chose a logger itself.
  const endpoint = new FastifyWebSocket(endpointOptions.logger === undefined ? { ...endpointOptions, logger: fastifyLogger(fastify.log) } : endpointOptions);
  fastify.decorate("websocket", endpoint);
  fastify.addHook("onRoute", (route) => {
    if ((route as RouteOptions & { websocket?: boolean }).websocket === true) wrapRoute(endpoint, route);
  });
  fastify.addHook("preClose", async () => {
    await endpoint.close();
  });
  endpoint.attach(fastify.server);
};

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
  const callHandler = (connection: Connection, request: FastifyRequest) => onConnection.call(request.server, connection, request);
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
