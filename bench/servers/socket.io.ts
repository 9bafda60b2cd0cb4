/**
 * socket.io 4 as its documentation shows: events on the default namespace (`echo` answered to the
 * sender, `bcast` sent with `io.emit` to everyone), auth as namespace middleware
 * (`io.of("/auth").use(...)`, reading `socket.handshake.auth.token`; it runs after the WebSocket
 * upgrade, at the namespace CONNECT). Heartbeat is socket.io's own (ping every 25 s).
 */
import { createServer } from "node:http";
import { Server } from "socket.io";
import { announce, AUTH_TOKEN, COMPRESSION_THRESHOLD, MAX_MESSAGE_SIZE, portOf, settingsFromEnv } from "./contract.js";

const { compression } = settingsFromEnv();
const httpServer = createServer();
const io = new Server(httpServer, {
  maxHttpBufferSize: MAX_MESSAGE_SIZE,
  perMessageDeflate: compression ? { threshold: COMPRESSION_THRESHOLD } : false,
});

io.on("connection", (socket) => {
  socket.on("echo", (data: unknown) => socket.emit("echo", data));
  socket.on("bcast", (data: unknown) => io.emit("bcast", data));
});

const auth = io.of("/auth");
auth.use((socket, next) => {
  const token = (socket.handshake.auth as { token?: unknown }).token;
  if (token !== AUTH_TOKEN) return next(new Error("unauthorized"));
  socket.data.user = { id: "bench-user" };
  next();
});
auth.on("connection", () => {});

httpServer.listen(0, "127.0.0.1", () => announce(portOf(httpServer)));
