/**
 * wsmount on node:http, no framework: one `attach(server, { path }, handler)` per path. With no
 * middleware layer, the auth check is wsmount's own `authenticate` hook (before the 101, `false`
 * answers 401), on the endpoint of `/auth`.
 */
import { createServer } from "node:http";
import { websocket } from "wsmount/node";
import { announce, portOf, userFromAuthorization } from "./contract.js";
import { ROOM, wsmountOptions } from "./wsmount-options.js";

const server = createServer((_request, response) => {
  response.writeHead(404).end();
});

const ws = websocket(wsmountOptions());
ws.attach(server, { path: "/echo" }, (conn) => {
  conn.onMessage((data, isBinary) => conn.send(data, { binary: isBinary }));
});
ws.attach(server, { path: "/bcast" }, (conn) => {
  conn.join(ROOM);
  conn.onMessage((data, isBinary) => ws.to(ROOM).send(data, { binary: isBinary }));
});

const authenticated = websocket({
  ...wsmountOptions(),
  authenticate: (request) => {
    const user = userFromAuthorization(request.headers.authorization);
    return user ? { data: user } : false;
  },
});
authenticated.attach(server, { path: "/auth" }, () => {});

server.listen(0, "127.0.0.1", () => announce(portOf(server)));
