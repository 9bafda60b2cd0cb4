/**
 * wsmount's options in every benchmark server: the defaults (heartbeat on, 1 MiB messages), plus
 * permessage-deflate when the scenario asks for it. `serverNoContextTakeover` is what wsmount's
 * documentation tells users who broadcast compressed messages to set: each message is then
 * compressed once for all recipients instead of once per recipient.
 */
import type { EndpointOptions } from "wsmount";
import { COMPRESSION_THRESHOLD, MAX_MESSAGE_SIZE, settingsFromEnv } from "./contract.js";

/** Options for `websocket(...)` / `app.register(websocket, ...)`. */
export function wsmountOptions(): EndpointOptions {
  const { compression } = settingsFromEnv();
  return {
    maxMessageSize: MAX_MESSAGE_SIZE,
    compression: compression ? { threshold: COMPRESSION_THRESHOLD, serverNoContextTakeover: true } : false,
  };
}

/** The room every `/bcast` connection joins. */
export const ROOM = "bcast";
