/**
 * @fastify/websocket 11 on Fastify 5, as its README shows: `{ websocket: true }` routes, auth in a
 * `preValidation` hook (runs before the upgrade, can answer 401), broadcast over
 * `fastify.websocketServer.clients`.
 *
 * JavaScript, not TypeScript: @fastify/websocket's type augmentation of Fastify's route options
 * would clash with wsmount's own in the project's single type-check.
 */
import websocket from "@fastify/websocket";
import Fastify from "fastify";
import { announce, COMPRESSION_THRESHOLD, MAX_MESSAGE_SIZE, portOf, settingsFromEnv } from "./contract.js";
import { installHeartbeat } from "./heartbeat.js";
import { fastifyAuthenticate } from "./middleware.js";

const { compression } = settingsFromEnv();
const app = Fastify({ logger: false });
app.decorateRequest("user", null);
await app.register(websocket, {
  options: { maxPayload: MAX_MESSAGE_SIZE, perMessageDeflate: compression ? { threshold: COMPRESSION_THRESHOLD } : false },
});
installHeartbeat(app.websocketServer);

function onError(error) {
  console.error(error);
}

app.get("/echo", { websocket: true }, (socket) => {
  socket.on("error", onError);
  socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }));
});

app.get("/bcast", { websocket: true }, (socket) => {
  socket.on("error", onError);
  socket.on("message", (data, isBinary) => {
    for (const client of app.websocketServer.clients) {
      if (client.readyState === 1) client.send(data, { binary: isBinary });
    }
  });
});

app.get("/auth", { websocket: true, preValidation: fastifyAuthenticate }, (socket) => {
  socket.on("error", onError);
});

await app.listen({ host: "127.0.0.1", port: 0 });
announce(portOf(app.server));

