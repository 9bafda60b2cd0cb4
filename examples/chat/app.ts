/**
 * The chat demo as a reusable Express app: `createChatApp({ broker })` builds it, `startChat()` also listens.
 * examples/chat/server.ts is the entry that `npm start` runs; several processes sharing a broker (e.g. Redis)
 * make one chat.
 *
 * Routes: `/` the page, `/app.js` its script (built from page/ at startup), `/wsmount.js` the served
 * wsmount client, `/chat` the WebSocket endpoint, `/healthz` a health check.
 * @module
 */
import { createHash, randomUUID } from "node:crypto";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { buildSync } from "esbuild";
import express, { type Express, type NextFunction, type Request, type Response } from "express";
import { clientScript, websocket, type Broker, type Connection, type ExpressWebSocket } from "wsmount/express";
import { History } from "./history.js";
import { AddressBook, TokenBucket } from "./limits.js";
import { ChatLog, type ChatLogOptions } from "./log.js";
import { Presence } from "./presence.js";
import {
  ChatErrorCode,
  LIMITS,
  type ChatMessage,
  type ClientEvents,
  type Joined,
  type Limits,
  type ServerEvents,
  type User,
  type Welcome,
} from "./shared/events.js";
import { checkName, checkRoom, checkText } from "./shared/validate.js";

/** What the server keeps per connection. */
export interface ChatSession {
  /** Set by `hello`. */
  user: User | null;
  /** What per-address limits count this connection against. */
  address: string;
  /** The chat rooms this connection is in. */
  rooms: Set<string>;
  /** One token bucket per kind of call or event. */
  rates: Record<keyof ClientEvents, TokenBucket>;
  /** Invalid messages (bad envelopes, calls of unknown events) this connection may still send. */
  invalid: TokenBucket;
}

/** A chat connection. */
export type ChatConnection = Connection<ChatSession, ClientEvents, ServerEvents>;

/** Options of {@link createChatApp}. */
export interface ChatAppOptions {
  /**
   * Carries rooms, broadcasts, presence and history between the processes serving the chat (e.g. the
   * Redis broker). @defaultValue in-process
   */
  broker?: Broker;
  /** The endpoint's name; broker channels derive from it. @defaultValue "chat" */
  name?: string;
  /** Ms between presence heartbeats between processes. @defaultValue 5000 */
  presenceHeartbeat?: number;
  /** The server's limits: any of {@link LIMITS} (each given one replaces the default). @defaultValue LIMITS */
  limits?: Partial<Limits>;
  /** The log: where it goes and how much of it. @defaultValue stderr, 10 lines then one per 10 s */
  log?: ChatLogOptions;
  /**
   * The address that per-address limits ({@link LIMITS.usersPerAddress}, {@link LIMITS.helloPerAddress})
   * count a connection against. Behind a reverse proxy every connection comes from the proxy: return the
   * client's address from the header your proxy sets (and only trust that header from the proxy).
   * @defaultValue the peer's IP address
   */
  addressOf?: (request: ChatConnection["request"]) => string;
  /**
   * Host names the chat answers WebSocket upgrades for (IP literals always pass): a page elsewhere whose
   * name was made to resolve to this server (DNS rebinding) is refused. Add the chat's public name here.
   * @defaultValue `ALLOWED_HOSTS` (comma-separated) or `["localhost"]`
   */
  allowedHosts?: readonly string[];
}

/** The chat, ready to listen. */
export interface ChatApp {
  /** The Express app: add routes or middleware before listening if you like. */
  readonly app: Express;
  /** The WebSocket endpoint. */
  readonly ws: ExpressWebSocket<ChatSession, ClientEvents, ServerEvents>;
  /** Presence across every process. */
  readonly presence: Presence;
  /** The limits in force. */
  readonly limits: Readonly<Limits>;
  /** Attaches the endpoint to the server the app listens on. */
  attach(server: Server): void;
  /** Closes connections gracefully (1001) and leaves the broker channels. */
  close(): Promise<void>;
}

const PUBLIC_DIR = fileURLToPath(new URL("./public/", import.meta.url));

/** An error with a code the page understands (the client's `RemoteError.code`). */
class ChatError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

// What wsmount reports that is the server's own fault (a handler that failed, the broker, an internal
// fault) and worth a line in the log; everything else is what a client did (bad envelopes, unknown
// calls, oversized or invalid frames, timeouts) and is counted, a few lines at most.
const SERVER_FAULTS = new Set<string>(["ERR_WSMOUNT_HANDLER_FAILED", "ERR_WSMOUNT_NOT_ATTACHED", "ERR_WSMOUNT_BROKER", "ERR_WSMOUNT_INTERNAL"]);
// What a connection sends that is not a valid message for the chat: past LIMITS.invalid, it is closed.
const INVALID_MESSAGES = new Set<string>(["ERR_WSMOUNT_INVALID_ENVELOPE", "ERR_WSMOUNT_UNKNOWN_EVENT", "ERR_WSMOUNT_PROTOCOL_NOTICE"]);

/** The room of the endpoint that holds a chat room's members, across processes (messages, notices, typing). */
function roomKey(room: string): string {
  return `room:${room}`;
}

/**
 * Keys of the rooms that only this process's connections join: presence deltas are worked out by each
 * process from its own view of presence, so each tells its own connections, and a room broadcast to
 * such a key reaches exactly them (encoded and framed once).
 */
function localKeys(node: string): { room: (room: string) => string; everyone: string } {
  return { room: (room) => `here:${node}:${room}`, everyone: `here:${node}` };
}

/** Creates the chat app; nothing listens yet. */
export function createChatApp(options: ChatAppOptions = {}): ChatApp {
  const name = options.name ?? "chat";
  const broker = options.broker;
  const limits: Limits = { ...LIMITS, ...options.limits, rate: { ...LIMITS.rate, ...options.limits?.rate } };
  const log = new ChatLog(options.log);
  const onError = (error: Error): void => log.fault("broker", error.message);
  const ws = websocket<ChatSession, ClientEvents, ServerEvents>({
    name,
    ...(broker === undefined ? {} : { broker }),
    welcome: true,
    maxMessageSize: 16 * 1024,
    pingInterval: 25_000,
    maxConnections: limits.connections,
    // Each chat room is two endpoint rooms (see localKeys), and everyone is in one more.
    maxRoomsPerConnection: 2 * limits.roomsPerUser + 1,
    // The chat never calls the page; a bound of 1 costs nothing and keeps it that way.
    maxPendingAcks: 1,
    allowedHosts: options.allowedHosts ?? (process.env.ALLOWED_HOSTS ?? "localhost").split(","),
    // A backstop under the per-event limits below: whatever a connection sends, at most this much.
    rateLimit: { messages: 100, bytes: 1024 * 1024, interval: 1000 },
  });
  const presence = new Presence({ ...(broker === undefined ? {} : { broker }), channel: `${name}/presence`, heartbeat: options.presenceHeartbeat ?? 5_000, onError });
  const history = new History({ ...(broker === undefined ? {} : { broker }), channel: `${name}/history`, perRoom: limits.history, onError });
  const addresses = new AddressBook(limits);
  const keys = localKeys(presence.node);
  const addressOf = options.addressOf ?? ((request) => request.remoteAddress ?? "unknown");

  ws.onError((error, conn) => {
    // Refused calls (bad names, rate limits) are answered to the page; nothing to log.
    if (error.cause instanceof ChatError) return;
    const code = (error as { code?: unknown }).code;
    const kind = typeof code === "string" ? code : "error";
    if (SERVER_FAULTS.has(kind)) {
      log.fault(kind, `${conn ? `connection ${conn.id}: ` : ""}${error.message}`);
      return;
    }
    log.client(kind, error.message);
    // A connection that keeps sending what is not a chat message is closed (RFC 6455 section 7.4.1: 1008).
    const session = conn?.data as ChatSession | undefined;
    if (conn !== undefined && session !== undefined && INVALID_MESSAGES.has(kind) && !session.invalid.take()) conn.close(1008, "too many invalid messages");
  });

  // Each process tells its own connections what changed, as deltas: one message per room and change,
  // encoded once, whatever the room's size.
  presence.onChange((change) => {
    const { version } = change;
    for (const [room, { joined, left }] of change.rooms) ws.to(keys.room(room)).emit("presence", { version, room, joined, left });
    if (change.rooms.size > 0) ws.to(keys.everyone).emit("rooms", [...change.rooms].map(([room, { members }]) => ({ name: room, members })));
    if (change.online !== null) ws.to(keys.everyone).emit("online", { total: change.total, ...change.online });
  });

  const app = express();
  app.disable("x-powered-by");
  app.use(securityHeaders);
  app.get("/healthz", (_req, res) => void res.json({ ok: true, connections: ws.size, node: presence.node }));
  app.get("/wsmount.js", clientScript());
  app.get("/app.js", pageScript());
  app.use(express.static(PUBLIC_DIR, { index: "index.html", etag: true, lastModified: false, cacheControl: true, maxAge: 0 }));
  const services: Services = { ws, presence, history, addresses, limits, keys, addressOf };
  app.get(
    "/chat",
    ws.handler((conn) => serveConnection(conn, services)),
  );

  let closing: Promise<void> | undefined;
  return {
    app,
    ws,
    presence,
    limits,
    attach: (server) => void ws.attach(server),
    close() {
      closing ??= (async () => {
        await ws.close({ timeout: 2_000 });
        await Promise.all([presence.close(), history.close()]);
        addresses.close();
        log.close();
      })();
      return closing;
    },
  };
}

interface Services {
  ws: ExpressWebSocket<ChatSession, ClientEvents, ServerEvents>;
  presence: Presence;
  history: History;
  addresses: AddressBook;
  limits: Limits;
  keys: ReturnType<typeof localKeys>;
  addressOf: (request: ChatConnection["request"]) => string;
}

function rates(limits: Limits): Record<keyof ClientEvents, TokenBucket> {
  const { hello, join, leave, send, typing } = limits.rate;
  return { hello: new TokenBucket(hello), join: new TokenBucket(join), leave: new TokenBucket(leave), send: new TokenBucket(send), typing: new TokenBucket(typing) };
}

/** One person's connection: their calls, and their goodbye. */
function serveConnection(conn: ChatConnection, { ws, presence, history, addresses, limits, keys, addressOf }: Services): void {
  conn.data = { user: null, address: addressOf(conn.request), rooms: new Set(), rates: rates(limits), invalid: new TokenBucket(limits.invalid) };

  /**
   * Takes a token for `event`, or refuses: the sender is told once per episode (a `limited` event), and a
   * call is answered `E_RATE`. Checked first, so a refused call costs nothing more.
   */
  const rateLimited = (event: keyof ClientEvents): boolean => {
    const bucket = conn.data.rates[event];
    if (bucket.take()) return false;
    if (!bucket.noticed) {
      bucket.noticed = true;
      conn.emit("limited", { event, retryIn: bucket.retryIn() });
    }
    return true;
  };
  const limit = (event: keyof ClientEvents): void => {
    if (rateLimited(event)) throw new ChatError(ChatErrorCode.rate, `Slow down a little: too many at once. Try again in ${Math.ceil(conn.data.rates[event].retryIn() / 1000)} s.`);
  };
  const named = (): User => {
    const user = conn.data.user;
    if (user === null) throw new ChatError(ChatErrorCode.notNamed, "Say hello with a name first.");
    return user;
  };
  const joinedRoom = (input: unknown): string => {
    const room = checkRoom(input);
    if (!room.ok) throw new ChatError(ChatErrorCode.room, room.reason);
    if (!conn.data.rooms.has(room.value)) throw new ChatError(ChatErrorCode.notJoined, `You are not in #${room.value}.`);
    return room.value;
  };

  conn.on("hello", (request): Welcome => {
    limit("hello");
    if (conn.data.user !== null) throw new ChatError(ChatErrorCode.alreadyNamed, "You already have a name.");
    const checked = checkName((request as { name?: unknown } | null)?.name);
    if (!checked.ok) throw new ChatError(ChatErrorCode.name, checked.reason);
    const admitted = addresses.admit(conn.data.address);
    if (admitted === "full") throw new ChatError(ChatErrorCode.tooManyUsers, "Too many people are in the chat from your network.");
    if (admitted === "rate") throw new ChatError(ChatErrorCode.rate, "Too many people joined from your network just now; try again in a moment.");
    const user: User = { id: conn.id, name: presence.uniqueName(checked.value) };
    conn.data.user = user;
    presence.add(user);
    conn.join(keys.everyone);
    return { me: user, rooms: presence.rooms(limits.roomsListed), online: presence.online(limits.onlineListed) };
  });

  conn.on("join", (input): Joined => {
    limit("join");
    const user = named();
    const checked = checkRoom(input);
    if (!checked.ok) throw new ChatError(ChatErrorCode.room, checked.reason);
    const room = checked.value;
    if (!conn.data.rooms.has(room)) {
      if (conn.data.rooms.size >= limits.roomsPerUser) throw new ChatError(ChatErrorCode.tooManyRooms, `You can be in ${limits.roomsPerUser} rooms at most.`);
      if (!presence.hasRoom(room) && presence.roomCount >= limits.rooms) {
        throw new ChatError(ChatErrorCode.tooManyRooms, "The chat has as many rooms as it can hold; join an existing one.");
      }
      conn.data.rooms.add(room);
      conn.join(roomKey(room));
      conn.join(keys.room(room));
      presence.join(user.id, room);
      conn.to(roomKey(room)).emit("notice", { room, kind: "joined", user, at: Date.now() });
    }
    return { room, members: presence.members(room), version: presence.version, history: history.recent(room) };
  });

  conn.on("leave", (input) => {
    limit("leave");
    const user = named();
    const room = joinedRoom(input);
    conn.to(roomKey(room)).emit("notice", { room, kind: "left", user, at: Date.now() });
    conn.data.rooms.delete(room);
    conn.leave(roomKey(room));
    conn.leave(keys.room(room));
    presence.leave(user.id, room);
    return true;
  });

  conn.on("send", (request): ChatMessage => {
    limit("send");
    const user = named();
    const { room: input, text: rawText } = (request ?? {}) as { room?: unknown; text?: unknown };
    const room = joinedRoom(input);
    const text = checkText(rawText);
    if (!text.ok) throw new ChatError(ChatErrorCode.text, text.reason);
    const message: ChatMessage = { id: randomUUID(), room, from: user, text: text.value, at: Date.now() };
    history.add(message);
    ws.to(roomKey(room)).emit("message", message);
    return message;
  });

  conn.on("typing", (input) => {
    // Not a call: past the rate it is dropped (the sender was told once).
    if (rateLimited("typing")) return;
    const user = conn.data.user;
    const room = checkRoom(input);
    if (user === null || !room.ok || !conn.data.rooms.has(room.value)) return;
    conn.to(roomKey(room.value)).emit("typing", { room: room.value, user });
  });

  conn.onClose(() => {
    const user = conn.data.user;
    if (user === null) return;
    addresses.release(conn.data.address);
    // Close handlers run before the connection leaves its rooms, so the rooms can still be told.
    const at = Date.now();
    for (const room of conn.data.rooms) conn.to(roomKey(room)).emit("notice", { room, kind: "left", user, at });
    presence.remove(user.id);
  });
}

/** Headers for every answer: the page loads nothing from elsewhere and runs no inline script. */
function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader(
    "Content-Security-Policy",
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  );
  res.setHeader("X-Content-Type-Options", "nosniff");
  res.setHeader("Referrer-Policy", "no-referrer");
  next();
}

let pageCode: { code: string; etag: string } | undefined;

/**
 * The page's script, built once per process from page/main.ts with esbuild; `wsmount/client` becomes an
 * import of the served client (`/wsmount.js`), so the page uses exactly what the server serves.
 */
function pageScript(): (req: Request, res: Response) => void {
  if (pageCode === undefined) {
    const result = buildSync({
      entryPoints: [fileURLToPath(new URL("./page/main.ts", import.meta.url))],
      bundle: true,
      format: "esm",
      platform: "browser",
      target: "es2022",
      minify: false,
      write: false,
      legalComments: "none",
      // The page imports what the server serves, not a copy bundled into it.
      alias: { "wsmount/client": "/wsmount.js" },
      external: ["/wsmount.js"],
    });
    const code = result.outputFiles[0]!.text;
    pageCode = { code, etag: `"${createHash("sha256").update(code).digest("base64url").slice(0, 27)}"` };
  }
  const { code, etag } = pageCode;
  return (req, res) => {
    res.setHeader("Cache-Control", "no-cache");
    res.setHeader("ETag", etag);
    if (req.headers["if-none-match"] === etag) {
      res.status(304).end();
      return;
    }
    res.type("application/javascript; charset=utf-8").send(code);
  };
}

/** Options of {@link startChat}. */
export interface StartChatOptions extends ChatAppOptions {
  /** @defaultValue 3000 */
  port?: number;
  /** @defaultValue "127.0.0.1" */
  host?: string;
}

/** A listening chat server. */
export interface RunningChat extends ChatApp {
  readonly server: Server;
  readonly port: number;
  /** Closes connections gracefully, then the HTTP server. */
  stop(): Promise<void>;
}

/** Creates the chat app and listens: what examples/chat/server.ts runs. */
export async function startChat(options: StartChatOptions = {}): Promise<RunningChat> {
  const { port = 3000, host = "127.0.0.1", ...appOptions } = options;
  const chat = createChatApp(appOptions);
  let server: Server;
  try {
    server = await new Promise<Server>((resolve, reject) => {
      const listening = chat.app.listen(port, host, (error?: Error) => (error ? reject(error) : resolve(listening)));
    });
  } catch (error) {
    await chat.close();
    throw error;
  }
  chat.attach(server);
  return {
    ...chat,
    server,
    port: (server.address() as AddressInfo).port,
    async stop() {
      await chat.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
