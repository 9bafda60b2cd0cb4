/**
 * wsmount core: framework-agnostic WebSocket endpoints. Framework adapters live in
 * `wsmount/express`, `wsmount/fastify`, `wsmount/koa` and `wsmount/node`.
 * @module
 */
export {
  Endpoint,
  createEndpoint,
  type AttachOptions,
  type CloseOptions,
  type ConnectionHandler,
  type EndpointCloseHandler,
  type EndpointErrorHandler,
  type PlainResponse,
  type RouteMatch,
} from "./endpoint.js";
export {
  Connection,
  type CloseHandler,
  type ErrorHandler,
  type MessageHandler,
  type PongHandler,
  type RequestInfo,
  type SendOptions,
} from "./connection.js";
export type { AuthResult, CompressionOptions, EndpointOptions, ResolvedOptions, ValueOrFn } from "./options.js";
export { ErrorCode, HandshakeRejection, InvalidOptionError, WsmountError, type ErrorCodeValue, type RejectionInit } from "./errors.js";
export type { EndpointStats } from "./stats.js";
export type { RefusalReason } from "./upgrade/handshake.js";
export type { SendData } from "./types.js";
export { Broadcast, type Targets } from "./broadcast.js";
export {
  memoryBroker,
  type Broker,
  type BrokerChannel,
  type BrokerErrorHandler,
  type BrokerHost,
  type BrokerStage,
  type BrokerStats,
  type ClusterLink,
  type ClusterRequest,
  type Publication,
  type RequestOutcome,
} from "./broker.js";
export { Cluster } from "./cluster.js";
export type { RoomListener } from "./rooms.js";
export {
  ClientScript,
  createClientScript,
  type ClientScriptOptions,
  type ClientScriptRequest,
  type ClientScriptResponse,
} from "./client-script.js";
export {
  AckError,
  AckErrorCode,
  ProtocolError,
  RemoteError,
  WireErrorCode,
  type AckArgs,
  type AckOptions,
  type AckResult,
  type DefaultEventMap,
  type EventArgs,
  type EventData,
  type EventHandler,
  type EventMap,
  type EventNames,
  type JsonValue,
} from "./protocol/index.js";
export { requireFunction, requirePath } from "./arguments.js";
export type { Logger } from "./fault-log.js";
export { DEFAULT_MEMORY_BUDGET, outgoingMemoryBudget, setOutgoingMemoryBudget } from "./memory-budget.js";
export type { RateLimitOptions } from "./rate-limit.js";
export { DiagnosticsChannel } from "./diagnostics.js";
