/**
 * A small real events server for the client tests, built on plain `ws` and the protocol codec, until the
 * server's own events layer exists. It listens on 127.0.0.1 and can stop and start again on the same port.
 */
import { once } from "node:events";
import { WebSocket, WebSocketServer } from "ws";
import {
  decode,
  encodeAck,
  encodeAckError,
  encodeError,
  encodeWelcome,
  toErrorPayload,
  WireErrorCode,
} from "../../core/protocol/index.js";

export type Handler = (data: unknown, socket: WebSocket) => unknown;

export interface ReceivedEvent {
  name: string;
  data: unknown;
  ackId: number | undefined;
}

export interface TestServerOptions {
  /** Send a welcome with this id (plus a counter) to every new connection. */
  welcomeId?: string;
  /** Subprotocols the server accepts (first offered that is listed wins). */
  protocols?: string[];
}

export class TestServer {
  /** Every event received, in order. */
  readonly events: ReceivedEvent[] = [];
  /** Every raw message received (text as string, binary as Buffer), in order. */
  readonly raw: Array<string | Buffer> = [];
  /** Every text frame received, as sent. */
  readonly frames: string[] = [];
  /** Event handlers by name; see `on`. */
  readonly handlers = new Map<string, Handler>();
  readonly sockets = new Set<WebSocket>();
  /** Called with each raw message; default: none. */
  onRaw: ((data: string | Buffer, socket: WebSocket) => void) | undefined;
  /** Called with every decoded client message that is not an event (acks of server calls, invalid...). */
  onOther: ((message: ReturnType<typeof decode>, socket: WebSocket) => void) | undefined;
  connections = 0;
  #wss: WebSocketServer | undefined;
  #port = 0;
  readonly #options: TestServerOptions;

  constructor(options: TestServerOptions = {}) {
    this.#options = options;
  }

  get port(): number {
    return this.#port;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.#port}/events`;
  }

  /** Starts listening: on a fresh port the first time, on the same port afterwards. */
  async start(): Promise<void> {
    const protocols = this.#options.protocols;
    const wss = new WebSocketServer({
      host: "127.0.0.1",
      port: this.#port,
      ...(protocols ? { handleProtocols: (offered: Set<string>) => [...offered].find((p) => protocols.includes(p)) ?? false } : {}),
    });
    await once(wss, "listening");
    this.#port = (wss.address() as { port: number }).port;
    this.#wss = wss;
    wss.on("connection", (socket) => this.#onConnection(socket));
  }

  /** Drops every connection (no close handshake, like a crash) and stops listening, freeing the port. */
  async stop(): Promise<void> {
    const wss = this.#wss;
    if (!wss) return;
    this.#wss = undefined;
    for (const socket of this.sockets) socket.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  }

  /** Handles `name` like the server's events layer would: the return value (or promise) is the ack. */
  on(name: string, handler: Handler): void {
    this.handlers.set(name, handler);
  }

  /** Sends text to every connected client. */
  sendAll(text: string): void {
    for (const socket of this.sockets) socket.send(text);
  }

  #onConnection(socket: WebSocket): void {
    this.connections++;
    this.sockets.add(socket);
    socket.on("close", () => this.sockets.delete(socket));
    socket.on("error", () => {});
    if (this.#options.welcomeId !== undefined) socket.send(encodeWelcome(`${this.#options.welcomeId}-${this.connections}`));
    socket.on("message", (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        this.raw.push(data);
        this.onRaw?.(data, socket);
        return;
      }
      const text = data.toString("utf8");
      this.frames.push(text);
      this.#onText(text, socket);
    });
  }

  #onText(text: string, socket: WebSocket): void {
    const message = decode(text);
    switch (message.kind) {
      case "raw":
        this.raw.push(text);
        this.onRaw?.(text, socket);
        return;
      case "event": {
        const { name, data, ackId } = message;
        this.events.push({ name, data, ackId });
        const handler = this.handlers.get(name);
        if (ackId === undefined) {
          handler?.(data, socket);
          return;
        }
        if (!handler) {
          socket.send(encodeAckError(ackId, { message: `No handler for "${name}"`, code: WireErrorCode.unknownEvent }));
          return;
        }
        new Promise((resolve) => resolve(handler(data, socket))).then(
          (result) => socket.readyState === WebSocket.OPEN && socket.send(encodeAck(ackId, result)),
          (error: unknown) => socket.readyState === WebSocket.OPEN && socket.send(encodeAckError(ackId, toErrorPayload(error))),
        );
        return;
      }
      case "invalid":
        socket.send(
          message.ackId === undefined
            ? encodeError(WireErrorCode.invalidEnvelope, message.reason)
            : encodeAckError(message.ackId, { message: message.reason, code: WireErrorCode.invalidEnvelope }),
        );
        this.onOther?.(message, socket);
        return;
      default:
        this.onOther?.(message, socket);
    }
  }
}

/** Starts a test server on 127.0.0.1, port 0. */
export async function startTestServer(options?: TestServerOptions): Promise<TestServer> {
  const server = new TestServer(options);
  await server.start();
  return server;
}

/** Polls `condition` every 5 ms until it holds; fails after `timeout` ms (bounded in time and count). */
export async function waitUntil(condition: () => boolean, what: string, timeout = 3_000): Promise<void> {
  const deadline = Date.now() + timeout;
  for (let i = 0; i < timeout / 5 + 1; i++) {
    if (condition()) return;
    if (Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  if (!condition()) throw new Error(`Timed out after ${timeout} ms waiting for ${what}`);
}
