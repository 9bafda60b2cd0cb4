/** wsmount on Express 5: `ws.handler` routes, Express middleware before the upgrade, rooms for the broadcast. */
import express from "express";
import { websocket } from "wsmount/express";
import { announce, portOf } from "./contract.js";
import { expressAuthenticate } from "./middleware.js";
import { ROOM, wsmountOptions } from "./wsmount-options.js";

const app = express();
const ws = websocket(wsmountOptions());

app.get(
  "/echo",
  ws.handler((conn) => {
    conn.onMessage((data, isBinary) => conn.send(data, { binary: isBinary }));
  }),
);

app.get(
  "/bcast",
  ws.handler((conn) => {
    conn.join(ROOM);
    conn.onMessage((data, isBinary) => ws.to(ROOM).send(data, { binary: isBinary }));
  }),
);

app.get(
  "/auth",
  expressAuthenticate,
  ws.handler(() => {}),
);

const server = app.listen(0, "127.0.0.1", () => announce(portOf(server)));
ws.attach(server);
