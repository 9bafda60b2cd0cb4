/**
 * @fastify/websocket 11 on Fastify 5, as its README shows: `{ websocket: true }` routes, auth in a
 * `preValidation` hook (runs before the upgrade, can answer 401), broadcast over
 * `fastify.websocketServer.clients`.
 */
import websocket from "@fastify/websocket";
import Fastify, { type FastifyReply, type FastifyRequest } from "fastify";
import type { RawData } from "ws";
import { announce, COMPRESSION_THRESHOLD, MAX_MESSAGE_SIZE, portOf, settingsFromEnv, userFromAuthorization, type BenchUser } from "./contract.js";
import { installHeartbeat } from "./heartbeat.js";

const { compression } = settingsFromEnv();
const app = Fastify({ logger: false });
app.decorateRequest("user", null);
await app.register(websocket, {
  options: { maxPayload: MAX_MESSAGE_SIZE, perMessageDeflate: compression ? { threshold: COMPRESSION_THRESHOLD } : false },
});
installHeartbeat(app.websocketServer);

async function authenticate(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const user = userFromAuthorization(request.headers.authorization);
  if (!user) return reply.code(401).send();
  (request as FastifyRequest & { user: BenchUser | null }).user = user;
}

function onError(error: Error): void {
  console.error(error);
}

app.get("/echo", { websocket: true }, (socket) => {
  socket.on("error", onError);
  socket.on("message", (data: RawData, isBinary: boolean) => socket.send(data, { binary: isBinary }));
});

app.get("/bcast", { websocket: true }, (socket) => {
  socket.on("error", onError);
  socket.on("message", (data: RawData, isBinary: boolean) => {
    for (const client of app.websocketServer.clients) {
      if (client.readyState === 1) client.send(data, { binary: isBinary });
    }
  });
});

app.get("/auth", { websocket: true, preValidation: authenticate }, (socket) => {
  socket.on("error", onError);
});

await app.listen({ host: "127.0.0.1", port: 0 });
announce(portOf(app.server));

