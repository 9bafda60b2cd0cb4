/** Real `ws` clients with bounded waits, for tests. */
import { once } from "node:events";
import type { IncomingMessage } from "node:http";
import { connect, type Socket } from "node:net";
import WebSocket, { type ClientOptions } from "ws";

export const WAIT = 5000;

/** Rejects after `ms` with a message naming what was awaited. */
export function within<T>(promise: Promise<T>, what: string, ms = WAIT): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms))),
  ]);
}

export interface Opened {
  ws: WebSocket;
  /** The 101 response's headers. */
  headers: IncomingMessage["headers"];
}

type Received = { data: Buffer; isBinary: boolean };
const inboxes = new WeakMap<WebSocket, { queue: Received[]; waiting: Array<(message: Received) => void> }>();

/** Queues a client's messages from its first one, so none is missed between 'open' and a listener. */
function collect(ws: WebSocket): void {
  const inbox = { queue: [] as Received[], waiting: [] as Array<(message: Received) => void> };
  inboxes.set(ws, inbox);
  ws.on("message", (data: Buffer, isBinary: boolean) => {
    const waiter = inbox.waiting.shift();
    if (waiter) waiter({ data, isBinary });
    else inbox.queue.push({ data, isBinary });
  });
}

/** Opens a client; rejects with the HTTP status if the handshake is refused. */
export function open(url: string, protocols?: string | string[], options?: ClientOptions): Promise<Opened> {
  const ws = new WebSocket(url, protocols, options);
  collect(ws);
  let headers: IncomingMessage["headers"] = {};
  ws.once("upgrade", (response: IncomingMessage) => (headers = response.headers));
  return within(
    new Promise<Opened>((resolve, reject) => {
      ws.once("open", () => resolve({ ws, headers }));
      ws.once("error", reject);
      ws.once("unexpected-response", (_request, response: IncomingMessage) => {
        response.resume();
        reject(new Error(`unexpected response ${response.statusCode}`));
      });
    }),
    `open ${url}`,
  );
}

export interface Refused {
  status: number;
  headers: IncomingMessage["headers"];
  body: string;
}

/** Attempts a handshake that must be refused; resolves with the HTTP response the client saw. */
export function refused(url: string, protocols?: string | string[], options?: ClientOptions): Promise<Refused> {
  const ws = new WebSocket(url, protocols, options);
  return within(
    new Promise<Refused>((resolve, reject) => {
      ws.once("open", () => {
        ws.terminate();
        reject(new Error("handshake unexpectedly accepted"));
      });
      ws.once("unexpected-response", (_request, response: IncomingMessage) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => (body += chunk));
        response.on("end", () => {
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body });
          ws.terminate();
        });
      });
      ws.once("error", (error) => reject(error));
    }),
    `refusal from ${url}`,
  );
}

/** The next message a client receives (clients made by `open` never miss one). */
export function nextMessage(ws: WebSocket, ms = WAIT): Promise<Received> {
  let inbox = inboxes.get(ws);
  if (inbox === undefined) {
    collect(ws);
    inbox = inboxes.get(ws)!;
  }
  const queued = inbox.queue.shift();
  if (queued !== undefined) return Promise.resolve(queued);
  const { waiting } = inbox;
  let resolver!: (message: Received) => void;
  const next = new Promise<Received>((resolve) => (resolver = resolve));
  waiting.push(resolver);
  return within(next, "a message", ms).catch((error: unknown) => {
    waiting.splice(waiting.indexOf(resolver), 1);
    throw error;
  });
}

/** The client's close event. */
export function closed(ws: WebSocket, ms = WAIT): Promise<{ code: number; reason: string }> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.reject(new Error("already closed"));
  return within(
    once(ws, "close").then(([code, reason]) => ({ code: code as number, reason: String(reason) })),
    "close",
    ms,
  );
}

/** A raw TCP connection to the server. */
export function rawSocket(port: number): Promise<Socket> {
  const socket = connect(port, "127.0.0.1");
  return within(once(socket, "connect").then(() => socket), "raw connect");
}

/** Reads everything a raw socket receives until the server closes it. */
export function readAll(socket: Socket, ms = WAIT): Promise<string> {
  let text = "";
  socket.setEncoding("latin1");
  socket.on("data", (chunk: string) => (text += chunk));
  return within(
    new Promise<string>((resolve) => {
      socket.once("close", () => resolve(text));
    }),
    "the server to close the raw socket",
    ms,
  );
}

/** A handshake request as raw text. */
export function handshake(path: string, port: number, headers: Record<string, string | undefined> = {}, requestLine = `GET ${path} HTTP/1.1`): string {
  const all: Record<string, string | undefined> = {
    Host: `127.0.0.1:${port}`,
    Upgrade: "websocket",
    Connection: "Upgrade",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version": "13",
    ...headers,
  };
  let text = `${requestLine}\r\n`;
  for (const [name, value] of Object.entries(all)) if (value !== undefined) text += `${name}: ${value}\r\n`;
  return `${text}\r\n`;
}

/** Resolves when `check()` is true, polling every 10 ms; rejects after `ms`. */
export async function until(check: () => boolean, what: string, ms = WAIT): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
