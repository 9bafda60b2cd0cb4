/**
 * Every user hook throwing (synchronously) and rejecting (asynchronously), through every mounting
 * style: the handshake hooks (`authenticate`, `checkOrigin`, `headers`, `generateId`, the attach option
 * `shouldHandle`, framework middleware and request listeners before the route), the connection, message,
 * event, close and error handlers, the endpoint's `onError` and `onClose`, and the room listeners.
 *
 * For each: the process is up (no uncaught exception or unhandled rejection), the error is reported
 * (`endpoint.onError` receives it, with its connection where there is one; without `onError` it is
 * logged once through the endpoint's `logger`), the client gets a well-formed answer (500 for handshake
 * hooks, close 1011 when the connection handler fails, an ack error for an event handler with an ack),
 * the endpoint's state is clean (no connection left, no room left, stats), and a fresh client still
 * echoes.
 */
import { afterEach, describe, expect, test } from "vitest";
import type { IncomingMessage } from "node:http";
import type WebSocket from "ws";
import { mounts, type MountStyle, type Mounted } from "../helpers/mounts.js";
import { startWithMiddleware } from "../helpers/middleware-mounts.js";
import { recordProcessFaults } from "../helpers/process-faults.js";
import { closed, nextMessage, open, refused, until } from "../helpers/client.js";
import { ProtocolClient } from "../helpers/protocol-client.js";
import { freshClientEchoes, trackServerSockets, type ServerSockets } from "../helpers/http-wire.js";
import type { Connection, EndpointOptions } from "../../core/index.js";

const faults = recordProcessFaults();

/** Bound on each wait for the server's answer or report. */
const WAIT = 2_000;

/**
 * Runs `work` (a client's part) until it settles or a process fault is recorded, whichever is first: a
 * fault fails the test at once, naming it, instead of leaving the client to its timeout.
 */
async function watching(work: Promise<void>): Promise<void> {
  let poll: NodeJS.Timeout | undefined;
  const outcome = work.then(
    () => ({ error: undefined as unknown, failed: false }),
    (error: unknown) => ({ error, failed: true }),
  );
  const fault = new Promise<"fault">((resolve) => {
    poll = setInterval(() => faults.recorded.length > 0 && resolve("fault"), 10);
  });
  const first = await Promise.race([outcome, fault]).finally(() => clearInterval(poll));
  await faults.expectNone();
  if (first !== "fault" && first.failed) throw first.error;
}

/** How a hook fails: a synchronous throw, or a returned promise that rejects. */
type Kind = "throws" | "rejects";
/** Where the failure must go: the endpoint's onError handler, or (none registered) the logger, once. */
type Mode = "onError" | "logger";

interface Reported {
  error: Error;
  connection: Connection<any> | undefined;
}

/** What a case works with. */
interface Context {
  style: MountStyle;
  kind: Kind;
  mode: Mode;
  /** A text unique to the case, in the message of the error the hook fails with. */
  marker: string;
  /** Fails as the case's kind says: throws, or returns a promise that rejects. */
  fail(): any;
  /** The connection opened with `?fail=1`, once open. */
  failing: Connection<any> | undefined;
  app: Mounted;
  reported: Reported[];
  logged: Array<{ message: string; error: unknown }>;
}

interface HookCase {
  name: string;
  /** The mounting styles the hook exists in. @defaultValue all */
  styles?: ReadonlyArray<MountStyle["name"]>;
  /** @defaultValue both */
  kinds?: readonly Kind[];
  /** @defaultValue onError for both kinds, the logger for a synchronous throw (the logging path does not depend on the kind) */
  modes?: readonly Mode[];
  /** Endpoint options of the case. */
  options?(ctx: Context): EndpointOptions<any>;
  /** Starts the app instead of the mounting style's fixture (given the options and connection handler). */
  start?(ctx: Context, options: EndpointOptions<any>, onConnection: (connection: Connection<any>) => unknown): Promise<Mounted>;
  /** The connection handler of connections opened with `?fail=1` (others echo). */
  onFailing?(connection: Connection<any>, ctx: Context): unknown;
  /** After the app started. */
  setup?(ctx: Context): void;
  /** What the client does, and what it must see. */
  trigger(ctx: Context): Promise<void>;
  /**
   * Who reports the failure: wsmount (onError or the logger) or the framework itself (its own 500 and
   * error handling; wsmount has nothing to report). @defaultValue "wsmount"
   */
  reportedBy?: "wsmount" | "framework";
  /** The reported error belongs to the failing connection. */
  withConnection?: boolean;
  /** What the reported (or logged) error mentions, in its message or its causes. @defaultValue the marker */
  mentions?(ctx: Context): string;
  /** Handshakes wsmount refused, when the case pins it. */
  refused?: number;
  /** Handshakes accepted (the fresh client's included), when the case pins it. */
  accepted?: number;
  /** How many times the logger logs (the fresh client's check included). @defaultValue 1 in logger mode, 0 in onError mode */
  logs?: number;
}

function echo(connection: Connection<any>): void {
  connection.onMessage((data) => connection.send(data));
}

/** Messages of an error and its causes, as one text. */
function chain(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    parts.push(e instanceof Error ? e.message : String(e));
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join(" <- ");
}

const failed = (request: IncomingMessage): boolean => request.headers["x-fail"] === "1";

/**
 * For hooks whose result is used synchronously (a promise is not a valid result): the rejection is
 * reported with the marker to onError, but the logger may log only the first fault of the episode (that
 * the result was invalid), so in logger mode any line will do.
 */
const markerUnlessLoggedRejection = (ctx: Context): string => (ctx.kind === "rejects" && ctx.mode === "logger" ? "" : ctx.marker);

/**
 * A handshake that must be refused with `status`; with `others`, the hook's result was not a valid one
 * (a promise where a value was due) and these answers are well-formed too: 101 (the value ignored, the
 * connection then closed by the client), 404 (the request declined).
 */
async function expectRefused(ctx: Context, status = 500, others: readonly number[] = []): Promise<void> {
  const url = ctx.app.url("/echo?fail=1");
  const answer = await refused(url, undefined, { headers: { "x-fail": "1" } }).then(
    (r) => r.status,
    (error: unknown) => (others.includes(101) && String(error).includes("unexpectedly accepted") ? 101 : String(error)),
  );
  expect([status, ...others], `the handshake's answer: ${answer}`).toContain(answer);
}

/** Sends `text` and expects it back; a close instead of the echo fails at once, naming its code. */
async function expectEcho(ws: WebSocket, text: string): Promise<void> {
  const gone = new Promise<string>((resolve) => ws.once("close", (code: number, reason: Buffer) => resolve(`the connection closed with ${code} ${reason.toString()}`)));
  ws.send(text);
  const answer = await Promise.race([nextMessage(ws, WAIT).then((m) => m.data.toString(), (error: unknown) => String(error)), gone]);
  expect(answer).toBe(text);
}

/** Opens `/echo?fail=1`, checks the connection echoes, closes it, and waits for the close. */
async function openEchoClose(ctx: Context): Promise<void> {
  const { ws } = await open(ctx.app.url("/echo?fail=1"));
  await expectEcho(ws, "still works");
  const done = closed(ws);
  ws.close(1000);
  expect((await done).code).toBe(1000);
}

const CASES: HookCase[] = [
  // Handshake hooks.
  {
    name: "authenticate",
    options: (ctx) => ({ authenticate: (request) => (failed(request) ? ctx.fail() : {}) }),
    trigger: (ctx) => expectRefused(ctx),
    refused: 1,
    accepted: 1,
  },
  {
    name: "checkOrigin (a function)",
    options: (ctx) => ({ checkOrigin: (_origin, request) => (failed(request) ? ctx.fail() : true) }),
    trigger: (ctx) => expectRefused(ctx),
    refused: 1,
    accepted: 1,
  },
  {
    name: "headers (a function)",
    options: (ctx) => ({ headers: ((request: IncomingMessage) => (failed(request) ? ctx.fail() : { "x-extra": "1" })) as EndpointOptions["headers"] }),
    // A promise is not headers: refused, or (if the promise is ignored) opened without them.
    trigger: (ctx) => expectRefused(ctx, 500, ctx.kind === "rejects" ? [101] : []),
    mentions: markerUnlessLoggedRejection,
  },
  {
    name: "generateId",
    options: (ctx) => ({ generateId: (request) => (failed(request) ? ctx.fail() : `id-${Math.random()}`) }),
    trigger: (ctx) => expectRefused(ctx),
    mentions: markerUnlessLoggedRejection,
    refused: 1,
    accepted: 1,
  },
  {
    name: "generateId returning a number",
    kinds: ["throws"],
    options: () => ({ generateId: ((request: IncomingMessage) => (failed(request) ? 42 : `id-${Math.random()}`)) as unknown as (request: IncomingMessage) => string }),
    trigger: (ctx) => expectRefused(ctx),
    mentions: () => "42",
    refused: 1,
    accepted: 1,
  },
  {
    name: "generateId returning an empty string",
    kinds: ["throws"],
    options: () => ({ generateId: (request) => (failed(request) ? "" : `id-${Math.random()}`) }),
    trigger: (ctx) => expectRefused(ctx),
    mentions: () => "non-empty",
    refused: 1,
    accepted: 1,
  },
  {
    name: "the attach option shouldHandle",
    styles: ["express", "fastify", "koa"],
    setup: (ctx) => {
      const endpoint = ctx.app.endpoint;
      endpoint.detach(ctx.app.server);
      endpoint.attach(ctx.app.server, { shouldHandle: (request) => (failed(request) ? ctx.fail() : true) });
    },
    trigger: (ctx) => expectRefused(ctx, 500, ctx.kind === "rejects" ? [101, 404] : []),
    mentions: markerUnlessLoggedRejection,
  },
  {
    name: "framework middleware before the WebSocket route",
    styles: ["express", "fastify", "koa"],
    start: (ctx, options, onConnection) =>
      startWithMiddleware(ctx.style.name as "express" | "fastify" | "koa", options, onConnection, (headers) => (headers["x-fail"] === "1" ? ctx.fail() : undefined)),
    trigger: (ctx) => expectRefused(ctx),
    reportedBy: "framework",
    accepted: 1,
  },
  {
    name: "a request listener of the server, before the framework's",
    styles: ["express", "fastify", "koa"],
    kinds: ["throws"],
    setup: (ctx) => {
      ctx.app.server.prependListener("request", (request: IncomingMessage) => {
        if (failed(request)) ctx.fail();
      });
    },
    trigger: (ctx) => expectRefused(ctx),
    accepted: 1,
  },
  // Connection hooks.
  {
    name: "the connection handler",
    onFailing: (_connection, ctx) => ctx.fail(),
    trigger: async (ctx) => {
      const { ws } = await open(ctx.app.url("/echo?fail=1"));
      expect((await closed(ws, WAIT)).code).toBe(1011);
    },
    withConnection: true,
    accepted: 2,
    refused: 0,
  },
  {
    name: "a message handler",
    onFailing: (connection, ctx) => {
      connection.onMessage((data) => (data === "fail" ? ctx.fail() : undefined));
      echo(connection);
    },
    trigger: async (ctx) => {
      const { ws } = await open(ctx.app.url("/echo?fail=1"));
      ws.send("fail");
      ws.send("after");
      expect((await nextMessage(ws, WAIT)).data.toString()).toBe("fail");
      expect((await nextMessage(ws, WAIT)).data.toString()).toBe("after");
      const done = closed(ws);
      ws.close(1000);
      expect((await done).code).toBe(1000);
    },
    withConnection: true,
    accepted: 2,
  },
  {
    name: "an event handler called without an ack",
    onFailing: (connection, ctx) => {
      connection.on("boom", () => ctx.fail());
      connection.on("ok", () => "fine");
    },
    trigger: async (ctx) => {
      const client = await ProtocolClient.connect(ctx.app.url("/echo?fail=1"));
      client.emit("boom");
      const answer = await client.call("ok");
      expect(answer).toMatchObject({ kind: "ack", result: "fine" });
      client.close();
    },
    withConnection: true,
    accepted: 2,
  },
  {
    name: "an event handler called with an ack",
    onFailing: (connection, ctx) => {
      connection.on("boom", () => ctx.fail());
      connection.on("ok", () => "fine");
    },
    trigger: async (ctx) => {
      const client = await ProtocolClient.connect(ctx.app.url("/echo?fail=1"));
      const answer = await client.call("boom");
      expect(answer.kind).toBe("ackError");
      expect(await client.call("ok")).toMatchObject({ kind: "ack", result: "fine" });
      client.close();
    },
    withConnection: true,
    accepted: 2,
  },
  {
    name: "a connection's close handler",
    onFailing: (connection, ctx) => {
      connection.onClose(() => ctx.fail());
      echo(connection);
    },
    trigger: openEchoClose,
    withConnection: true,
    accepted: 2,
  },
  {
    name: "a connection's error handler",
    onFailing: (connection, ctx) => {
      connection.onError(() => ctx.fail());
      connection.on("boom", () => {
        throw new Error("the event handler's own failure");
      });
      connection.on("ok", () => "fine");
    },
    trigger: async (ctx) => {
      const client = await ProtocolClient.connect(ctx.app.url("/echo?fail=1"));
      client.emit("boom");
      expect(await client.call("ok")).toMatchObject({ kind: "ack", result: "fine" });
      client.close();
    },
    withConnection: true,
    // Logged once per episode: the first failure (the event handler's, when the error handler's rejection comes later) is the line.
    mentions: markerUnlessLoggedRejection,
    accepted: 2,
  },
  // Endpoint hooks.
  {
    name: "the endpoint's onError handler",
    modes: ["onError"],
    onFailing: (connection) => {
      connection.onMessage((data) => {
        if (data === "fail") throw new Error("a message handler's failure, for onError");
      });
      echo(connection);
    },
    setup: (ctx) => void ctx.app.endpoint.onError(() => ctx.fail()),
    trigger: async (ctx) => {
      const { ws } = await open(ctx.app.url("/echo?fail=1"));
      ws.send("fail");
      expect((await nextMessage(ws, WAIT)).data.toString()).toBe("fail");
      ws.terminate();
    },
    // The failing onError handler cannot report to itself: the logger says it, once.
    logs: 1,
    accepted: 2,
  },
  {
    name: "the endpoint's onClose handler",
    setup: (ctx) => void ctx.app.endpoint.onClose((connection) => (connection.request.query.fail ? ctx.fail() : undefined)),
    trigger: openEchoClose,
    withConnection: true,
    accepted: 2,
  },
  {
    name: "an onRoomCreated listener",
    onFailing: (connection) => {
      echo(connection);
      connection.join("room-a");
      connection.join("room-b");
    },
    setup: (ctx) => void ctx.app.endpoint.onRoomCreated(() => ctx.fail()),
    trigger: async (ctx) => {
      const { ws } = await open(ctx.app.url("/echo?fail=1"));
      await expectEcho(ws, "still works");
      // Both joins happened, whatever the listener did.
      expect(ctx.app.endpoint.roomNames().sort()).toEqual(["room-a", "room-b"]);
      const done = closed(ws);
      ws.close(1000);
      expect((await done).code).toBe(1000);
    },
    accepted: 2,
  },
  {
    name: "an onRoomEmptied listener",
    onFailing: (connection) => {
      echo(connection);
      connection.join("room-a");
      connection.join("room-b");
    },
    setup: (ctx) => void ctx.app.endpoint.onRoomEmptied(() => ctx.fail()),
    trigger: openEchoClose,
    accepted: 2,
  },
];

describe.each(mounts)("user hooks failing through $name", (style) => {
  let app: Mounted | undefined;
  let sockets: ServerSockets | undefined;
  afterEach(async () => {
    // A socket a failure left behind would keep server.close() waiting.
    sockets?.destroyAll();
    if (app !== undefined) await Promise.race([app.close(), new Promise((resolve) => setTimeout(resolve, WAIT))]);
    app = undefined;
    sockets = undefined;
  });

  const rows = CASES.filter((c) => c.styles === undefined || c.styles.includes(style.name)).flatMap((kase) =>
    (kase.kinds ?? (["throws", "rejects"] as const)).flatMap((kind) =>
      (kase.modes ?? (kind === "throws" ? (["onError", "logger"] as const) : (["onError"] as const))).map((mode) => [`${kase.name} ${kind === "throws" ? "throws" : "rejects"}, ${mode === "onError" ? "reported to onError" : "logged without onError"}`, kase, kind, mode] as const),
    ),
  );

  test.each(rows)("%s", async (_title, kase, kind, mode) => {
    const marker = `boom from ${kase.name} (${style.name}, ${kind}, ${mode})`;
    const ctx: Context = {
      style,
      kind,
      mode,
      marker,
      fail: () => {
        const error = new Error(marker);
        if (kind === "throws") throw error;
        return Promise.reject(error);
      },
      failing: undefined,
      app: undefined as unknown as Mounted,
      reported: [],
      logged: [],
    };
    const logger = {
      error: (message: string, error?: unknown) => void ctx.logged.push({ message, error }),
      warn: () => undefined,
    };
    const options: EndpointOptions<any> = { pingInterval: 0, handshakeTimeout: 3_000, logger, ...kase.options?.(ctx) };
    const onConnection = (connection: Connection<any>): unknown => {
      if (!connection.request.query.fail) return echo(connection);
      ctx.failing = connection;
      return kase.onFailing ? kase.onFailing(connection, ctx) : echo(connection);
    };
    app = ctx.app = kase.start ? await kase.start(ctx, options, onConnection) : await style.start(options, onConnection);
    sockets = trackServerSockets(app.server);
    if (mode === "onError") app.endpoint.onError((error, connection) => void ctx.reported.push({ error, connection }));
    kase.setup?.(ctx);

    await watching(kase.trigger(ctx));

    const mentions = kase.mentions?.(ctx) ?? marker;
    const reportedBy = kase.reportedBy ?? "wsmount";
    if (reportedBy === "wsmount" && mode === "onError" && kase.logs === undefined) {
      await until(() => ctx.reported.some((r) => chain(r.error).includes(mentions)) || faults.recorded.length > 0, `onError to receive an error mentioning ${JSON.stringify(mentions)}`, WAIT).catch(() => undefined);
      await faults.expectNone();
      const mine = ctx.reported.find((r) => chain(r.error).includes(mentions));
      expect(mine, `onError received: ${JSON.stringify(ctx.reported.map((r) => chain(r.error)))}`).toBeDefined();
      if (kase.withConnection) {
        expect(mine!.connection, "the failing connection given to onError").toBeDefined();
        expect(mine!.connection?.id).toBe(ctx.failing?.id);
      }
    }
    const logs = kase.logs ?? (reportedBy === "wsmount" && mode === "logger" ? 1 : 0);
    if (logs > 0) {
      await until(() => ctx.logged.length >= logs || faults.recorded.length > 0, `${logs} line(s) logged`, WAIT).catch(() => undefined);
      await faults.expectNone();
      expect(ctx.logged.length, "logged through the endpoint's logger").toBeGreaterThanOrEqual(logs);
      const line = ctx.logged[0]!;
      expect(`${line.message} ${chain(line.error)}`, "the logged line names the failure").toContain(mentions);
    }

    // The process is up and the endpoint still serves.
    await faults.expectNone();
    expect(await freshClientEchoes(app.port)).toBeUndefined();
    // State is clean.
    expect(await until(() => app!.endpoint.size === 0, "no connection left on the endpoint", WAIT).then(() => true, () => false), `${app.endpoint.size} connection(s) left`).toBe(true);
    expect(app.endpoint.roomNames(), "rooms left").toEqual([]);
    const stats = app.endpoint.stats();
    expect(stats.connections).toBe(0);
    if (kase.accepted !== undefined) expect(stats.handshakes.accepted, "handshakes accepted").toBe(kase.accepted);
    if (kase.refused !== undefined) {
      const refusedCount = Object.values(stats.handshakes.refused).reduce((sum, n) => sum + (n ?? 0), 0);
      expect(refusedCount, `handshakes refused: ${JSON.stringify(stats.handshakes.refused)}`).toBe(kase.refused);
    }
    // Logged once: not once per failure, not for what was reported to onError.
    expect(ctx.logged.map((l) => l.message), "lines logged").toHaveLength(logs);
    await faults.expectNone();
  });
});
