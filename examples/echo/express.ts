import express from "express";
import { websocket } from "wsmount/express";
import { announce, echo, echoOptions, host, port } from "./shared.js";

const app = express();
const ws = websocket(echoOptions);

app.get("/echo", ws.handler(echo));

const server = app.listen(port, host, () => announce((server.address() as { port: number }).port));
ws.attach(server);
