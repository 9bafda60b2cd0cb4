/**
 * wsmount's `node:diagnostics_channel` channels, named as undici names its own (`undici:websocket:*`):
 * tracing and metrics tools subscribe to them without a logger dependency. Each publish is skipped
 * when nobody listens. Payloads are documented in docs/diagnostics.md.
 * @module
 */
import * as diagnosticsChannel from "node:diagnostics_channel";

/** The channel names. */
export const DiagnosticsChannel = {
  /** A connection opened: `{ endpoint, connection }`. */
  connectionOpen: "wsmount:connection:open",
  /** A connection closed: `{ endpoint, connection, code, reason }`. */
  connectionClose: "wsmount:connection:close",
  /** A handshake was refused by wsmount: `{ endpoint, request, status, reason }`. */
  handshakeRefused: "wsmount:handshake:refused",
  /** An error of an endpoint or one of its connections: `{ endpoint, error, connection }`. */
  error: "wsmount:error",
  /** The broker failed: `{ endpoint, error, stage }`. */
  brokerError: "wsmount:broker:error",
} as const;

export const connectionOpenChannel = diagnosticsChannel.channel(DiagnosticsChannel.connectionOpen);
export const connectionCloseChannel = diagnosticsChannel.channel(DiagnosticsChannel.connectionClose);
export const handshakeRefusedChannel = diagnosticsChannel.channel(DiagnosticsChannel.handshakeRefused);
export const errorChannel = diagnosticsChannel.channel(DiagnosticsChannel.error);
export const brokerErrorChannel = diagnosticsChannel.channel(DiagnosticsChannel.brokerError);

/** Publishes `message` on `channel` when it has subscribers; a subscriber that throws is Node's affair (it reports it asynchronously). */
export function publish(channel: diagnosticsChannel.Channel, message: object): void {
  if (channel.hasSubscribers) channel.publish(message);
}
