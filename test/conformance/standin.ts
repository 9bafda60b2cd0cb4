/**
 * A stand-in for test/helpers/mounts.ts while the adapters are being written: a plain `ws`
 * WebSocketServer (noServer) on a node:http server, serving /echo, with the same
 * `start(options, onConnection)` shape. Only the options the conformance suite uses are mapped.
 */
import { createServer, type IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { AddressInfo } from "node:net";
import { WebSocketServer, type ServerOptions, type WebSocket } from "ws";

/** The subset of wsmount's Connection the suite uses. */
export interface TestConnection {
  readonly id: string;
  send(data: string | Buffer): boolean;
  close(code?: number, reason?: string): void;
  onMessage(listener: (data: string | Buffer, isBinary: boolean) => void): void;
  onClose(listener: (code: number, reason: string) => void): void;
}

/** The subset of wsmount's Endpoint the suite uses. */
export interface TestEndpoint {
  readonly size: number;
}

/** The options the suite passes (a subset of wsmount's). */
export interface TestOptions {
  maxMessageSize?: number;
  compression?: boolean | Record<string, unknown>;
  handshakeTimeout?: number;
  idleTimeout?: number;
  writeTimeout?: number;
  maxBufferedAmount?: number;
  backpressure?: "drop" | "close";
  pingInterval?: number;
  checkOrigin?: boolean;
  authenticate?: (req: IncomingMessage) => unknown;
}

/** What `start` resolves to. */
export interface Started {
  port: number;
  url(path?: string): string;
  endpoint: TestEndpoint;
  close(): Promise<void>;
}

/** One way of mounting the endpoint. */
export interface MountStyle {
  name: string;
  start(options: TestOptions, onConnection: (conn: TestConnection, req: unknown) => void): Promise<Started>;
}

let nextId = 0;

function wrap(ws: WebSocket, options: TestOptions): TestConnection {
  let idle: NodeJS.Timeout | undefined;
  const armIdle = (): void => {
    if (!options.idleTimeout) return;
    clearTimeout(idle);
    idle = setTimeout(() => ws.close(1001, "idle"), options.idleTimeout);
  };
  armIdle();
  ws.on("message", armIdle);
  let lastBuffered = 0;
  const writeWatch = options.writeTimeout
    ? setInterval(() => {
        if (ws.bufferedAmount > 0 && ws.bufferedAmount >= lastBuffered) ws.terminate();
        lastBuffered = ws.bufferedAmount;
      }, options.writeTimeout)
    : undefined;
  ws.on("close", () => {
    clearTimeout(idle);
    clearInterval(writeWatch);
  });
  ws.on("error", () => undefined);
  return {
    id: String(++nextId),
    send(data) {
      if (options.maxBufferedAmount !== undefined && ws.bufferedAmount > options.maxBufferedAmount) {
        if (options.backpressure === "close") ws.terminate();
        return false;
      }
      ws.send(data);
      return ws.bufferedAmount <= (options.maxBufferedAmount ?? Infinity);
    },
    close: (code, reason) => ws.close(code, reason),
    onMessage: (listener) => ws.on("message", (data: Buffer, isBinary: boolean) => listener(isBinary ? data : data.toString(), isBinary)),
    onClose: (listener) => ws.on("close", (code: number, reason: Buffer) => listener(code, reason.toString())),
  };
}

/** The stand-in mount: ws on node:http. */
export const standin: MountStyle = {
  name: "ws-standin",
  async start(options, onConnection) {
    const timeout = options.handshakeTimeout ?? 10_000;
    const server = createServer({ headersTimeout: timeout, requestTimeout: timeout, connectionsCheckingInterval: Math.min(timeout, 1000) });
    const compression = options.compression;
    // closeTimeout exists in ws 8.23 but not yet in @types/ws.
    const wssOptions: ServerOptions & { closeTimeout: number } = {
      noServer: true,
      maxPayload: options.maxMessageSize ?? 1024 * 1024,
      closeTimeout: 1_000,
      perMessageDeflate: compression === true ? true : compression ? compression : false,
    };
    const wss = new WebSocketServer(wssOptions);
    server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on("error", () => undefined);
      if (new URL(req.url ?? "/", "http://x").pathname !== "/echo") {
        socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        return;
      }
      const upgrade = (): void => wss.handleUpgrade(req, socket, head, (ws) => onConnection(wrap(ws, options), req));
      if (!options.authenticate) return upgrade();
      const timer = setTimeout(() => {
        socket.end("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      }, timeout);
      void Promise.resolve(options.authenticate(req)).then((result) => {
        clearTimeout(timer);
        if (socket.destroyed || socket.writableEnded) return;
        if (result === false) socket.end("HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        else upgrade();
      });
    });
    server.on("request", (_req, res) => {
      res.statusCode = 426;
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    return {
      port,
      url: (path = "/echo") => `ws://127.0.0.1:${port}${path}`,
      endpoint: {
        get size() {
          return wss.clients.size;
        },
      },
      async close() {
        for (const client of wss.clients) client.terminate();
        wss.close();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      },
    };
  },
};

/** Every mounting style the suite runs against (only the stand-in until the adapters land). */
export const mounts: MountStyle[] = [standin];
