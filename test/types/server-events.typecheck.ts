/**
 * Type-level tests for typed event maps on the server, checked by `tsc --noEmit` (part of `npm test`):
 * each `@ts-expect-error` line must be an error, or the check fails.
 */
import { websocket } from "../../adapters/express.js";

interface ClientEvents {
  "chat:send": (message: { room: string; text: string }) => void;
  "rooms:join": (room: string) => { members: number };
  ping: () => "pong";
}

interface ServerEvents {
  "chat:message": (message: { from: string; text: string }) => void;
  "presence": (online: string[]) => void;
  "confirm": (question: string) => boolean;
}

const ws = websocket<{ name: string }, ClientEvents, ServerEvents>();

ws.handler((conn) => {
  conn.on("chat:send", (message) => {
    const text: string = message.text;
    conn.to(message.room).emit("chat:message", { from: conn.data.name, text });
  });
  conn.on("rooms:join", (room) => ({ members: room.length }));
  conn.on("ping", () => "pong" as const);

  // @ts-expect-error: not an event clients send
  conn.on("chat:message", () => {});
  // @ts-expect-error: the handler must answer { members: number }
  conn.on("rooms:join", () => "wrong");
  // @ts-expect-error: the data is an object, not a string
  conn.on("chat:send", (message: string) => message);

  conn.emit("presence", ["ada"]);
  // @ts-expect-error: wrong payload type
  conn.emit("presence", "ada");
  // @ts-expect-error: not an event the server emits
  conn.emit("chat:send", { room: "x", text: "y" });

  void conn.emitWithAck("confirm", "sure?").then((answer) => {
    const yes: boolean = answer;
    return yes;
  });
  // @ts-expect-error: the ack result is a boolean, not a string
  void conn.emitWithAck("confirm", "sure?").then((answer): string => answer);

  ws.to("lobby").emit("chat:message", { from: "server", text: "hi" });
  // @ts-expect-error: missing field
  ws.to("lobby").emit("chat:message", { from: "server" });
  conn.broadcast.emit("presence", []);
});
