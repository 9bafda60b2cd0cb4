/**
 * koa-easy-ws 2 on Koa 3 with @koa/router, as its README shows: the `websocket()` middleware first,
 * `await ctx.ws()` in the route, auth as an ordinary Koa middleware before it (runs before the
 * upgrade), broadcast over the middleware's `server.clients`.
 */
import Router from "@koa/router";
import Koa, { type Context } from "koa";
import websocketModule from "koa-easy-ws";
import type { RawData, WebSocket } from "ws";
import { announce, COMPRESSION_THRESHOLD, MAX_MESSAGE_SIZE, portOf, settingsFromEnv } from "./contract.js";
import { installHeartbeat } from "./heartbeat.js";
import { koaAuthenticate } from "./middleware.js";

// koa-easy-ws is CommonJS (`module.exports = fn`) but types it as `export default`.
const websocket = websocketModule as unknown as typeof websocketModule.default;
type WsContext = Context & { ws?: () => Promise<WebSocket> };

const { compression } = settingsFromEnv();
const app = new Koa();
const router = new Router<Koa.DefaultState, WsContext>();
const sockets = websocket("ws", {
  wsOptions: { maxPayload: MAX_MESSAGE_SIZE, perMessageDeflate: compression ? { threshold: COMPRESSION_THRESHOLD } : false },
});
installHeartbeat(sockets.server);
app.use(sockets);

function onError(error: Error): void {
  console.error(error);
}

router.get("/echo", async (ctx) => {
  if (!ctx.ws) {
    ctx.status = 426;
    return;
  }
  const ws = await ctx.ws();
  ws.on("error", onError);
  ws.on("message", (data: RawData, isBinary: boolean) => ws.send(data, { binary: isBinary }));
});

router.get("/bcast", async (ctx) => {
  if (!ctx.ws) {
    ctx.status = 426;
    return;
  }
  const ws = await ctx.ws();
  ws.on("error", onError);
  ws.on("message", (data: RawData, isBinary: boolean) => {
    for (const client of sockets.server.clients) {
      if (client.readyState === 1) client.send(data, { binary: isBinary });
    }
  });
});

router.get("/auth", koaAuthenticate, async (ctx) => {
  if (!ctx.ws) {
    ctx.status = 426;
    return;
  }
  const ws = await ctx.ws();
  ws.on("error", onError);
});

app.use(router.routes());
const server = app.listen(0, "127.0.0.1", () => announce(portOf(server)));
