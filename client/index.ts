/**
 * `wsmount/client`: the browser and Node client of the wsmount events protocol (docs/protocol.md). No
 * dependencies: it runs on the platform's `WebSocket`, or on an injected one (e.g. `ws` in Node 20).
 *
 * @example
 * ```ts
 * import { connect } from "wsmount/client";
 * const client = connect<ServerEvents, ClientEvents>("wss://example.com/live");
 * client.on("chat:message", (msg) => render(msg));
 * const { members } = await client.emitWithAck("rooms:join", "lobby");
 * ```
 * @module
 */
import type { DefaultEventMap, EventMap } from "../core/protocol/types.js";
import { WsmountClient } from "./client.js";
import type { ClientOptions } from "./options.js";

/**
 * Opens a client connection to `url` and returns it at once; events emitted before it opens are queued.
 * `In` types the events the server sends, `Out` the events the client sends.
 * @throws TypeError for an invalid url or option (naming it), or what the WebSocket constructor throws.
 */
export function connect<In extends EventMap = DefaultEventMap, Out extends EventMap = DefaultEventMap>(
  url: string | URL,
  options?: ClientOptions,
): WsmountClient<In, Out> {
  return new WsmountClient<In, Out>(url, options);
}

export { WsmountClient, type ClientState, type RetryInfo } from "./client.js";
export type { ClientOptions } from "./options.js";
export type { ReconnectOptions } from "./backoff.js";
export type { WebSocketConstructor, WebSocketLike } from "./websocket-like.js";
export { AckErrorCode, WireErrorCode } from "../core/protocol/constants.js";
export { AckError, ProtocolError, RemoteError } from "../core/protocol/errors.js";
export type {
  AckArgs,
  AckOptions,
  AckResult,
  DefaultEventMap,
  EventArgs,
  EventData,
  EventHandler,
  EventMap,
  EventNames,
  JsonValue,
} from "../core/protocol/types.js";
