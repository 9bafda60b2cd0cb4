/**
 * Raw `ws` 8: one noServer WebSocketServer per path on a node:http server, auth in the `'upgrade'`
 * listener (the ws README's "Client authentication" and "Multiple servers sharing a single HTTP/S
 * server" recipes). The ceiling of the engine wsmount builds on.
 */
import * as http from "node:http";
import type { Duplex } from "node:stream";
import { WebSocket, WebSocketServer, type RawData, type ServerOptions } from "ws";
import {
  announce,
  COMPRESSION_THRESHOLD,
  MAX_MESSAGE_SIZE,
  portOf,
  settingsFromEnv,
  userFromAuthorization,
  type BenchUser,
} from "./contract.js";
import { installHeartbeat } from "./heartbeat.js";

const { compression } = settingsFromEnv();
const options: ServerOptions = {
  noServer: true,
  maxPayload: MAX_MESSAGE_SIZE,
  perMessageDeflate: compression ? { threshold: COMPRESSION_THRESHOLD } : false,
};
const echo = new WebSocketServer(options);
const bcast = new WebSocketServer(options);
const auth = new WebSocketServer(options);
for (const wss of [echo, bcast, auth]) installHeartbeat(wss);

function onSocketError(error: Error): void {
  console.error(error);
}

echo.on("connection", (ws) => {
  ws.on("error", onSocketError);
  ws.on("message", (data: RawData, isBinary: boolean) => ws.send(data, { binary: isBinary }));
});

bcast.on("connection", (ws) => {
  ws.on("error", onSocketError);
  ws.on("message", (data: RawData, isBinary: boolean) => {
    for (const client of bcast.clients) {
      if (client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
    }
  });
});

const users = new WeakMap<WebSocket, BenchUser>();
auth.on("connection", (ws, request: http.IncomingMessage & { user?: BenchUser }) => {
  ws.on("error", onSocketError);
  if (request.user) users.set(ws, request.user);
});

const server = http.createServer((_request, response) => {
  response.writeHead(404).end();
});

server.on("upgrade", (request: http.IncomingMessage & { user?: BenchUser }, socket: Duplex, head: Buffer) => {
  socket.on("error", onSocketError);
  const { pathname } = new URL(request.url ?? "/", "http://localhost");
  let wss: WebSocketServer;
  if (pathname === "/echo") wss = echo;
  else if (pathname === "/bcast") wss = bcast;
  else if (pathname === "/auth") {
    const user = userFromAuthorization(request.headers.authorization);
    if (!user) {
      socket.write("HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      socket.destroy();
      return;
    }
    request.user = user;
    wss = auth;
  } else {
    socket.destroy();
    return;
  }
  socket.removeListener("error", onSocketError);
  wss.handleUpgrade(request, socket, head, (ws) => wss.emit("connection", ws, request));
});

server.listen(0, "127.0.0.1", () => announce(portOf(server)));
