/**
 * `wsmount/redis`: a broker on Redis pub/sub, so that rooms, broadcasts, targeted sends, presence
 * queries and acknowledged emits span every process of an endpoint.
 *
 * ```ts
 * import { websocket } from "wsmount/express";
 * import { redisBroker } from "wsmount/redis";
 * const ws = websocket({
 *   broker: redisBroker({ url: process.env.REDIS_URL, prefix: "chat", secret: process.env.WSMOUNT_SECRET! }),
 * });
 * ```
 * Every message between processes is signed with `secret`, shared by every process of the application;
 * what is not signed with it is dropped. See docs/scaling.md for the threat model, the delivery
 * guarantees, the fault policy and the keys it keeps.
 * @module
 */
import type { Broker } from "../core/index.js";
import { RedisChannel } from "./redis/channel.js";
import { RedisConnections } from "./redis/connections.js";
import { resolveRedisOptions, type RedisBrokerOptions } from "./redis/options.js";
import { Signer } from "./redis/signing.js";

export type { RedisBrokerOptions, RedisBrokerSecret } from "./redis/options.js";
export type { RedisBrokerStats } from "./redis/channel.js";

/** A broker on Redis; give the same one to every endpoint of the process that should use it. */
export interface RedisBroker extends Broker {
  /**
   * Closes every endpoint channel still open on this broker, then its Redis connections. Endpoints
   * close their own channel in `endpoint.close()`, and the connections close with the last channel:
   * call this only when a process stops without closing its endpoints.
   */
  close(): Promise<void>;
}

/**
 * Creates a Redis broker. It opens its two Redis connections when the first endpoint connects and
 * closes them when the last one closes. Throws a `TypeError` naming the option when one is wrong (a
 * missing or short `secret` included; its value never shows in the message).
 */
export function redisBroker(options: RedisBrokerOptions): RedisBroker {
  const resolved = resolveRedisOptions(options);
  const signer = new Signer(resolved.secrets);
  let connections: RedisConnections | null = null;
  const channels = new Set<RedisChannel>();
  const closed = async (channel: RedisChannel): Promise<void> => {
    channels.delete(channel);
    const shared = connections;
    if (shared !== null && shared.remove(channel)) {
      connections = null;
      await shared.close();
    }
  };
  return {
    connect(name, deliver, onError, host, onRecovered) {
      connections ??= new RedisConnections(resolved);
      const channel = new RedisChannel(connections, resolved, signer, name, deliver, onError, host, onRecovered, closed);
      channels.add(channel);
      return channel;
    },
    async close() {
      await Promise.all([...channels].map((channel) => channel.close()));
    },
  };
}
