import Koa from "koa";
import Router from "@koa/router";
import { websocket } from "wsmount/koa";
import { announce, echo, echoOptions, host, port } from "./shared.js";

const app = new Koa();
const router = new Router();
const ws = websocket(echoOptions);

router.get("/echo", ws.handler(echo));
app.use(router.routes());

const server = app.listen(port, host, () => announce((server.address() as { port: number }).port));
ws.attach(server);
