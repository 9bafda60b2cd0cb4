/**
 * The heartbeat recipe from the `ws` README ("How to detect and close broken connections?"),
 * which is what users of ws, express-ws, @fastify/websocket and koa-easy-ws write: an `isAlive`
 * flag and a `pong` listener per connection, one interval over `wss.clients`.
 */
import { HEARTBEAT_INTERVAL } from "./contract.js";

interface Peer {
  isAlive?: boolean;
  on(event: "pong", listener: (this: Peer) => void): unknown;
  ping(): void;
  terminate(): void;
}

interface PeerServer {
  clients: Set<unknown>;
  on(event: string, listener: (...args: never[]) => void): unknown;
}

function heartbeat(this: Peer): void {
  this.isAlive = true;
}

/** Installs the README heartbeat on a `ws` (7 or 8) WebSocketServer. */
export function installHeartbeat(wss: PeerServer, interval = HEARTBEAT_INTERVAL): void {
  wss.on("connection", (ws: Peer): void => {
    ws.isAlive = true;
    ws.on("pong", heartbeat);
  });
  const timer = setInterval(() => {
    for (const client of wss.clients as Set<Peer>) {
      if (client.isAlive === false) {
        client.terminate();
        continue;
      }
      client.isAlive = false;
      client.ping();
    }
  }, interval);
  wss.on("close", (): void => clearInterval(timer));
}
