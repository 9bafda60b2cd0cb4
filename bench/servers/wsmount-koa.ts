/** wsmount on Koa 3 with @koa/router: `ws.handler` routes, Koa middleware before the upgrade, rooms for the broadcast. */
import Router from "@koa/router";
import Koa from "koa";
import { websocket } from "wsmount/koa";
import { announce, portOf } from "./contract.js";
import { koaAuthenticate } from "./middleware.js";
import { ROOM, wsmountOptions } from "./wsmount-options.js";

const app = new Koa();
const router = new Router();
const ws = websocket(wsmountOptions());

router.get(
  "/echo",
  ws.handler((conn) => {
    conn.onMessage((data, isBinary) => conn.send(data, { binary: isBinary }));
  }),
);

router.get(
  "/bcast",
  ws.handler((conn) => {
    conn.join(ROOM);
    conn.onMessage((data, isBinary) => ws.to(ROOM).send(data, { binary: isBinary }));
  }),
);

router.get("/auth", koaAuthenticate, ws.handler(() => {}));

app.use(router.routes());
const server = app.listen(0, "127.0.0.1", () => announce(portOf(server)));
ws.attach(server);
