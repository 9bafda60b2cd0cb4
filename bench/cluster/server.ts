/**
 * One server process of the cross-process broadcast benchmark: a node:http server with a WebSocket
 * endpoint at /ws on the broker named by BROKER ("memory" or "redis", with REDIS_URL). Control
 * clients (connected with `?control=1`) drive it with events: `burst` publishes broadcasts to every
 * connection of the endpoint (all processes), `cpu` answers the CPU time used since the last `cpu`.
 * Prints `listening <port>`.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { websocket } from "../../adapters/node.js";
import { redisBroker } from "../../adapters/redis.js";
import type { Connection } from "../../core/index.js";

const broker = process.env.BROKER === "redis" ? redisBroker({ url: process.env.REDIS_URL!, prefix: "bench-cluster", secret: "wsmount cluster benchmark, not a secret: 32 bytes or more" }) : undefined;
const ws = websocket({ name: "bench", checkOrigin: false, pingInterval: 0, ...(broker === undefined ? {} : { broker }) });

let cpu = process.cpuUsage();

function onConnection(conn: Connection): void {
  if (!conn.request.query.control) {
    // Recipients join the room the broadcasts go to; control connections stay out of it.
    conn.join("all");
    return;
  }
  conn.on("burst", async (request: { count: number; size: number }) => {
    const pad = "x".repeat(request.size);
    for (let seq = 0; seq < request.count; seq++) {
      ws.to("all").emit("b", { seq, pad });
      // Let sockets and Redis drain every 100 publications, as a server handling requests would.
      if (seq % 100 === 99) await new Promise((resolve) => setImmediate(resolve));
    }
    return true;
  });
  conn.on("cpu", () => {
    const used = process.cpuUsage(cpu);
    cpu = process.cpuUsage();
    return (used.user + used.system) / 1000;
  });
  conn.on("ready", () => ws.cluster.roomSize("all"));
}

const server = createServer((_request, response) => response.writeHead(404).end());
ws.attach(server, { path: "/ws" }, onConnection);
server.listen(0, "127.0.0.1", () => console.log(`listening ${(server.address() as AddressInfo).port}`));
process.on("SIGTERM", () => void ws.close({ timeout: 200 }).then(() => process.exit(0)));
