/**
 * express-ws 5 on Express 5, as its README shows: `expressWs(app)`, `app.ws(path, handler)`,
 * ordinary Express middleware for auth (express-ws runs it after it has upgraded the socket, so a
 * refusal can only close the open WebSocket), broadcast over `getWss().clients`.
 */
import express from "express";
import expressWs from "express-ws";
import { announce, COMPRESSION_THRESHOLD, MAX_MESSAGE_SIZE, portOf, settingsFromEnv } from "./contract.js";
import { installHeartbeat } from "./heartbeat.js";
import { expressAuthenticate } from "./middleware.js";

/** The slice of a ws 7 WebSocket the handlers use (express-ws bundles ws 7, whose types are not installed). */
interface Socket7 {
  readyState: number;
  send(data: unknown): void;
  on(event: "message", listener: (data: string | Buffer) => void): void;
  on(event: "error", listener: (error: Error) => void): void;
}

const { compression } = settingsFromEnv();
const base = express();
const { app, getWss } = expressWs(base, undefined, {
  wsOptions: { maxPayload: MAX_MESSAGE_SIZE, perMessageDeflate: compression ? { threshold: COMPRESSION_THRESHOLD } : false },
});
const wss = getWss();
installHeartbeat(wss);

function onError(error: Error): void {
  console.error(error);
}

app.use("/auth", expressAuthenticate);

app.ws("/echo", (ws) => {
  const socket = ws as unknown as Socket7;
  socket.on("error", onError);
  // ws 7 hands text messages over as strings and binary ones as Buffers: sending back preserves the type.
  socket.on("message", (message) => socket.send(message));
});

app.ws("/bcast", (ws) => {
  const socket = ws as unknown as Socket7;
  socket.on("error", onError);
  socket.on("message", (message) => {
    for (const client of wss.clients as unknown as Set<Socket7>) {
      if (client.readyState === 1) client.send(message);
    }
  });
});

app.ws("/auth", (ws) => {
  (ws as unknown as Socket7).on("error", onError);
});

const server = app.listen(0, "127.0.0.1", () => announce(portOf(server)));
