/** wsmount on Fastify 5: `{ websocket: true }` routes, a preValidation hook before the upgrade, rooms for the broadcast. */
import Fastify from "fastify";
import websocket from "wsmount/fastify";
import { announce, portOf } from "./contract.js";
import { fastifyAuthenticate } from "./middleware.js";
import { ROOM, wsmountOptions } from "./wsmount-options.js";

const app = Fastify({ logger: false });
app.decorateRequest("user", null);
await app.register(websocket, wsmountOptions());

app.get("/echo", { websocket: true }, (conn) => {
  conn.onMessage((data, isBinary) => conn.send(data, { binary: isBinary }));
});

app.get("/bcast", { websocket: true }, (conn) => {
  conn.join(ROOM);
  conn.onMessage((data, isBinary) => app.websocket.to(ROOM).send(data, { binary: isBinary }));
});

app.get("/auth", { websocket: true, preValidation: fastifyAuthenticate }, () => {});

await app.listen({ host: "127.0.0.1", port: 0 });
announce(portOf(app.server));
