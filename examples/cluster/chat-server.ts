/**
 * A small chat server for the cluster example: an Express app whose WebSocket endpoint uses the Redis
 * broker, so several processes of it (on different ports) make one chat. Rooms, member counts and
 * direct messages with a read receipt work across processes.
 *
 * Environment: PORT (default 3001; 0 picks a free one), REDIS_URL (default redis://127.0.0.1:6379),
 * PROCESS (a label shown to users, default "p<pid>").
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import { websocket } from "wsmount/express";
import { redisBroker } from "wsmount/redis";
import { page } from "./page.js";

/** Events the browser sends (and what the server answers). */
interface ClientEvents {
  join: (request: { room: string; name: string }) => { members: number; process: string };
  say: (text: string) => void;
  dm: (request: { to: string; text: string }) => string;
}

/** Events the server sends. */
interface ServerEvents {
  joined: (notice: { name: string; room: string; process: string }) => void;
  said: (message: { name: string; text: string; process: string }) => void;
  dm: (message: { from: string; text: string }) => string;
}

interface Session {
  name: string;
  room: string | null;
}

const label = process.env.PROCESS ?? `p${process.pid}`;
const port = Number(process.env.PORT ?? 3001);
const broker = redisBroker({ url: process.env.REDIS_URL ?? "redis://127.0.0.1:6379", prefix: "wsmount-cluster-example" });

const ws = websocket<Session, ClientEvents, ServerEvents>({
  broker,
  name: "chat",
  welcome: true,
  authenticate: () => ({ data: { name: "anonymous", room: null } }),
});
ws.onError((error) => console.error(`[${label}] ${error.message}`));

const app = express();
app.get("/", (_request, response) => void response.type("html").send(page(label)));
app.get("/healthz", (_request, response) => void response.json({ process: label, connections: ws.size, broker: ws.cluster.stats() }));
app.get(
  "/chat",
  ws.handler((conn) => {
    conn.on("join", async ({ room, name }) => {
      if (typeof room !== "string" || typeof name !== "string" || room.length === 0 || name.length === 0) throw new Error("room and name are required");
      if (conn.data.room !== null) conn.leave(conn.data.room);
      conn.data = { name: name.slice(0, 40), room: `room:${room.slice(0, 40)}` };
      conn.join(conn.data.room!);
      ws.to(conn.data.room!).emit("joined", { name: conn.data.name, room, process: label });
      return { members: await ws.cluster.roomSize(conn.data.room!), process: label };
    });
    conn.on("say", (text) => {
      if (conn.data.room === null || typeof text !== "string") return;
      ws.to(conn.data.room).emit("said", { name: conn.data.name, text: text.slice(0, 1000), process: label });
    });
    // A direct message to a connection id on any process; the recipient's browser answers "read".
    conn.on("dm", ({ to, text }) => ws.cluster.emitWithAck(to, "dm", { from: conn.data.name, text: String(text).slice(0, 1000) }, { timeout: 5000 }));
  }),
);

const server = createServer(app);
ws.attach(server);
server.listen(port, "127.0.0.1", () => console.log(`${label} listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`));

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void ws.close({ timeout: 1000 }).then(() => server.close(() => process.exit(0)));
  });
}
