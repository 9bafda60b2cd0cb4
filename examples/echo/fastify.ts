import Fastify from "fastify";
import websocket from "wsmount/fastify";
import { announce, echo, echoOptions, host, port } from "./shared.js";

const app = Fastify();
await app.register(websocket, echoOptions);

app.get("/echo", { websocket: true }, echo);

await app.listen({ port, host });
announce((app.server.address() as { port: number }).port);
