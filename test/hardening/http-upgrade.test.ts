/**
 * Hostile HTTP around upgrades, through every mounting style: pipelined requests before and after an
 * upgrade, bodies on upgrade requests, odd request targets and headers, other methods and upgrade
 * protocols, resets and half-closes at every step, and random interleavings of all of these.
 *
 * After each case: no uncaught exception or unhandled rejection in this (the server's) process, what the
 * server wrote is well-formed HTTP (responses in order, each delimited; after a 101 only valid server
 * frames) or the connection was closed, the server let go of every socket of the case, and a fresh
 * client still echoes. Semantics (RFC 9112 section 9.3.2, RFC 6455 section 4): a pipelined upgrade behind
 * requests still being answered is answered in order, or the connection is closed after the earlier
 * responses; bytes after an upgrade request are never parsed as HTTP (after the 101 they are WebSocket
 * data, and a plain request is not a masked frame: close 1002); every socket that reached the
 * `'upgrade'` event has a deadline.
 */
import fc from "fast-check";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { mounts, type MountStyle, type Mounted } from "../helpers/mounts.js";
import { startWithMiddleware } from "../helpers/middleware-mounts.js";
import { recordProcessFaults } from "../helpers/process-faults.js";
import { handshakeLines, type HandshakeOptions } from "../helpers/raw-client.js";
import { destroyWireClients, freshClientEchoes, trackServerSockets, WireClient, type ServerSockets, type WireStream } from "../helpers/http-wire.js";
import type { Connection } from "../../core/index.js";

const faults = recordProcessFaults();

/** The endpoints' handshake timeout: every pending upgrade is over after this. */
const HANDSHAKE_TIMEOUT = 500;
/** Bound on every wait for the server (several handshake timeouts). */
const BOUND = 2_000;
/** Runs of the random-interleaving property, per mounting style. */
const RUNS = 25;

const REFUSAL: readonly number[] = Array.from({ length: 200 }, (_, i) => 400 + i);
const ANY: readonly number[] = [101, ...REFUSAL];

function echo(connection: Connection<any>): void {
  connection.onMessage((data) => connection.send(data));
}

/** A plain GET (no upgrade) on a keep-alive connection. */
function plain(port: number, path = "/nothing", method = "GET"): string {
  return `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`;
}

/** A WebSocket upgrade request; `lines` are appended as is, `body` after the blank line. */
function upgrade(port: number, options: HandshakeOptions & { lines?: string[]; body?: string } = {}): string {
  const lines = [...handshakeLines(port, options), ...(options.lines ?? [])];
  return lines.join("\r\n") + "\r\n\r\n" + (options.body ?? "");
}

/** What the fixtures answer, by mounting style. */
function statusesOf(style: MountStyle) {
  return {
    /** A plain GET /nothing. */
    nothing: 404,
    /** A plain GET on the WebSocket route: 426 from the route, or the node:http app's own 404. */
    plainEcho: style.middleware ? 426 : 404,
    /** An upgrade with `x-deny: 1`: refused by middleware, or (no middleware) accepted. */
    denied: style.middleware ? 401 : 101,
  };
}

/** One case: what the client writes, and what the server may answer. */
interface Case {
  name: string;
  /** Writes the case's bytes (the connection is open). */
  run(client: WireClient, port: number): Promise<void> | void;
  /** The statuses each response may have, in order; a response beyond the list is a failure. */
  statuses: ReadonlyArray<readonly number[]>;
  /** How many of the leading responses must be there. */
  required: number;
  /**
   * After a 101: "echo" (the connection works), "1002" (the client sent bytes after the upgrade request,
   * which are not a masked frame: the server closes with 1002), "either" (one of the two).
   */
  afterSwitch?: "echo" | "1002" | "either";
  /** The server must (true) or must not (false) switch protocols. */
  switches?: boolean;
}

/** Lets the event loop turn, so that the next write is a separate TCP segment. */
const turn = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 2));

function describeStream(client: WireClient, stream: WireStream): string {
  const text = client.bytes.toString("latin1");
  return `${stream.responses.map((r) => r.status).join(", ") || "no response"}${client.ended ? ", then closed" : ", still open"}: ${JSON.stringify(text.slice(0, 600))}`;
}

describe.each(mounts)("hostile HTTP around upgrades through $name", (style) => {
  let app: Mounted;
  let sockets: ServerSockets;
  const status = statusesOf(style);

  beforeAll(async () => {
    app = await style.start({ handshakeTimeout: HANDSHAKE_TIMEOUT, pingInterval: 0 }, echo);
    sockets = trackServerSockets(app.server);
  });
  afterEach(() => {
    destroyWireClients();
    sockets.destroyAll();
  });
  afterAll(async () => {
    sockets.destroyAll();
    await app.close();
  });

  /**
   * The checks after every case, once the client is done: no process fault, the server let go of every
   * socket, no connection left open on the endpoint, a fresh client echoes.
   */
  async function afterCase(target: Mounted = app, targetSockets: ServerSockets = sockets): Promise<void> {
    await faults.expectNone();
    destroyWireClients();
    const released = await waitFor(() => targetSockets.open.size === 0, BOUND);
    expect(released, `the server still holds ${targetSockets.open.size} socket(s) of this case ${BOUND} ms after the client closed`).toBe(true);
    expect(await waitFor(() => target.endpoint.size === 0, BOUND), "connections left open on the endpoint").toBe(true);
    expect(await freshClientEchoes(target.port)).toBeUndefined();
    await faults.expectNone();
  }

  /** Runs a case and judges what the server wrote. */
  async function check(kase: Case, target: Mounted = app, targetSockets: ServerSockets = sockets): Promise<void> {
    const client = await WireClient.open(target.port);
    await kase.run(client, target.port);
    const noFault = () => faults.recorded.length > 0;
    await client.waitFor((c) => {
      const s = c.stream();
      return c.ended || s.switched || s.malformed !== undefined;
    }, BOUND, noFault);
    await faults.expectNone();
    let stream = client.stream();
    const seen = describeStream(client, stream);
    expect(stream.malformed, seen).toBeUndefined();
    expect(stream.responses.length, `at most ${kase.statuses.length} response(s): ${seen}`).toBeLessThanOrEqual(kase.statuses.length);
    expect(stream.responses.length, `at least ${kase.required} response(s): ${seen}`).toBeGreaterThanOrEqual(kase.required);
    stream.responses.forEach((response, i) => expect(kase.statuses[i], `response ${i + 1} has status ${response.status}: ${seen}`).toContain(response.status));
    expect(client.ended || stream.switched, `neither closed nor switched within ${BOUND} ms: ${seen}`).toBe(true);
    if (kase.switches !== undefined) expect(stream.switched, `switched protocols: ${seen}`).toBe(kase.switches);
    if (stream.switched) {
      const mode = kase.afterSwitch ?? "echo";
      if (mode === "1002") {
        const closed = await client.closed(BOUND);
        stream = client.stream();
        expect(stream.malformed, describeStream(client, stream)).toBeUndefined();
        expect(closed, `the server did not close the connection after invalid WebSocket data: ${describeStream(client, stream)}`).toBe(true);
        expect(stream.closeCode, `close code after invalid WebSocket data: ${describeStream(client, stream)}`).toBe(1002);
      } else {
        const problem = await client.echoCheck(BOUND);
        stream = client.stream();
        expect(stream.malformed, describeStream(client, stream)).toBeUndefined();
        // "either": the bytes after the head were WebSocket data (close 1002), or the connection works.
        if (mode === "either" && problem !== undefined) expect(stream.closeCode, `${problem}: ${describeStream(client, stream)}`).toBe(1002);
        else expect(problem).toBeUndefined();
      }
    }
    await afterCase(target, targetSockets);
  }

  const cases = (port: number): Case[] => [
    // Pipelining before the upgrade.
    {
      name: "a plain request then an upgrade, in one write",
      run: (c) => c.write(plain(port) + upgrade(port)),
      statuses: [[status.nothing], ANY],
      required: 1,
    },
    {
      name: "a plain request then an upgrade, in two writes without waiting for the response",
      run: async (c) => {
        c.write(plain(port));
        await turn();
        c.write(upgrade(port));
      },
      statuses: [[status.nothing], ANY],
      required: 1,
    },
    {
      name: "a plain request, its response, then an upgrade on the same connection",
      run: async (c) => {
        c.write(plain(port));
        await c.waitFor((x) => x.stream().responses.length >= 1 || x.ended, BOUND);
        c.write(upgrade(port));
      },
      statuses: [[status.nothing], [101]],
      required: 2,
      switches: true,
    },
    {
      name: "two plain requests then an upgrade, in one write",
      run: (c) => c.write(plain(port) + plain(port, "/echo") + upgrade(port)),
      statuses: [[status.nothing], [status.plainEcho], ANY],
      required: 2,
    },
    {
      name: "a POST with a body, then an upgrade, in one write",
      run: (c) => c.write(`POST /nothing HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Length: 5\r\n\r\nhello` + upgrade(port)),
      statuses: [[404], ANY],
      required: 1,
    },
    {
      name: "a plain request, then two upgrades, in one write",
      run: (c) => c.write(plain(port) + upgrade(port) + upgrade(port)),
      statuses: [[status.nothing], ANY],
      required: 1,
      afterSwitch: "1002",
    },
    {
      name: "a plain request, an upgrade, and a plain request, in one write",
      run: (c) => c.write(plain(port) + upgrade(port) + plain(port)),
      statuses: [[status.nothing], ANY],
      required: 1,
      afterSwitch: "1002",
    },
    // Bytes after the upgrade request.
    {
      name: "an upgrade then a plain request, in one write: the request is WebSocket data",
      run: (c) => c.write(upgrade(port) + plain(port)),
      statuses: [[101]],
      required: 1,
      switches: true,
      afterSwitch: "1002",
    },
    {
      name: "an upgrade then a plain request right behind it, in a second write",
      run: async (c) => {
        c.write(upgrade(port));
        await turn();
        c.write(plain(port));
      },
      statuses: [[101]],
      required: 1,
      switches: true,
      afterSwitch: "1002",
    },
    {
      name: "an upgrade, its 101, then a plain request: the request is WebSocket data",
      run: async (c) => {
        c.write(upgrade(port));
        await c.waitFor((x) => x.stream().switched || x.ended, BOUND);
        c.write(plain(port));
      },
      statuses: [[101]],
      required: 1,
      switches: true,
      afterSwitch: "1002",
    },
    {
      name: "two upgrades in one write",
      run: (c) => c.write(upgrade(port) + upgrade(port)),
      statuses: [[101]],
      required: 1,
      switches: true,
      afterSwitch: "1002",
    },
    {
      name: "three upgrades and a plain request in one write",
      run: (c) => c.write(upgrade(port) + upgrade(port) + upgrade(port) + plain(port)),
      statuses: [[101]],
      required: 1,
      switches: true,
      afterSwitch: "1002",
    },
    {
      name: "a refused upgrade (version 12) then a plain request, in one write: one response, then the close",
      run: (c) => c.write(upgrade(port, { lines: [] }).replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 12") + plain(port)),
      statuses: [[426]],
      required: 1,
      switches: false,
    },
    {
      name: "an upgrade with x-deny: 1 then a plain request, in one write",
      run: (c) => c.write(upgrade(port, { headers: { "x-deny": "1" } }) + plain(port)),
      statuses: [[status.denied]],
      required: 1,
      afterSwitch: "1002",
    },
    // Bodies on upgrade requests.
    {
      name: "an upgrade with Content-Length and a body",
      run: (c) => c.write(upgrade(port, { lines: ["Content-Length: 5"], body: "hello" })),
      statuses: [ANY],
      required: 0,
      afterSwitch: "either",
    },
    {
      name: "an upgrade with a chunked body",
      run: (c) => c.write(upgrade(port, { lines: ["Transfer-Encoding: chunked"], body: "5\r\nhello\r\n0\r\n\r\n" })),
      statuses: [ANY],
      required: 0,
      afterSwitch: "either",
    },
    {
      name: "an upgrade with both Content-Length and Transfer-Encoding",
      run: (c) => c.write(upgrade(port, { lines: ["Content-Length: 5", "Transfer-Encoding: chunked"], body: "5\r\nhello\r\n0\r\n\r\n" })),
      statuses: [ANY],
      required: 0,
      afterSwitch: "either",
    },
    // Request targets.
    {
      name: "an upgrade with an absolute-form target (GET http://host/echo)",
      run: (c) => c.write(upgrade(port, { path: `http://127.0.0.1:${port}/echo` })),
      statuses: [ANY],
      required: 1,
    },
    {
      name: "an upgrade with the asterisk target (GET *)",
      run: (c) => c.write(upgrade(port, { path: "*" })),
      statuses: [REFUSAL],
      required: 0,
      switches: false,
    },
    {
      name: "an upgrade with dot segments (/a/../echo)",
      run: (c) => c.write(upgrade(port, { path: "/a/../echo" })),
      statuses: [ANY],
      required: 1,
    },
    {
      name: "an upgrade with encoded dot segments (/a/%2e%2e/echo)",
      run: (c) => c.write(upgrade(port, { path: "/a/%2e%2e/echo" })),
      statuses: [ANY],
      required: 1,
    },
    {
      name: "an upgrade to /echo with an 8 KiB query",
      run: (c) => c.write(upgrade(port, { path: `/echo?pad=${"a".repeat(8 * 1024)}` })),
      statuses: [[101]],
      required: 1,
      switches: true,
    },
    {
      name: "an upgrade with an 8 KiB path",
      run: (c) => c.write(upgrade(port, { path: `/${"a".repeat(8 * 1024)}` })),
      statuses: [REFUSAL],
      required: 0,
      switches: false,
    },
    {
      name: "an upgrade with a 64 KiB target",
      run: (c) => c.write(upgrade(port, { path: `/echo?pad=${"a".repeat(64 * 1024)}` })),
      statuses: [REFUSAL],
      required: 0,
      switches: false,
    },
    // Headers.
    {
      name: "an upgrade with an empty Host",
      run: (c) => c.write(upgrade(port).replace(/Host: [^\r]*/, "Host: ")),
      statuses: [REFUSAL],
      required: 0,
      switches: false,
    },
    {
      name: "an upgrade with two Host headers",
      run: (c) => c.write(upgrade(port, { lines: ["Host: elsewhere.example"] })),
      statuses: [ANY],
      required: 0,
    },
    {
      name: "an upgrade with lower-case header names",
      run: (c) => c.write(upgrade(port).replace(/^([A-Za-z-]+):/gm, (_m, name: string) => `${name.toLowerCase()}:`)),
      statuses: [[101]],
      required: 1,
      switches: true,
    },
    {
      name: "an upgrade with an obs-folded header",
      run: (c) => c.write(upgrade(port, { lines: ["X-Folded: first", " second"] })),
      statuses: [ANY],
      required: 0,
    },
    {
      name: "an upgrade whose Sec-WebSocket-Key is obs-folded",
      run: (c) => c.write(upgrade(port).replace(/Sec-WebSocket-Key: /, "Sec-WebSocket-Key:\r\n ")),
      statuses: [ANY],
      required: 0,
    },
    {
      name: "an upgrade with Connection: keep-alive, Upgrade",
      run: (c) => c.write(upgrade(port).replace("Connection: Upgrade", "Connection: keep-alive, Upgrade")),
      statuses: [[101]],
      required: 1,
      switches: true,
    },
    // Other methods and protocols.
    {
      name: "CONNECT",
      run: (c) => c.write(`CONNECT 127.0.0.1:${port} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`),
      statuses: [REFUSAL],
      required: 0,
      switches: false,
    },
    {
      name: "CONNECT with upgrade headers",
      run: (c) => c.write(upgrade(port).replace("GET /echo HTTP/1.1", `CONNECT 127.0.0.1:${port} HTTP/1.1`)),
      statuses: [REFUSAL],
      required: 0,
      switches: false,
    },
    {
      name: "Upgrade: h2c",
      run: (c) => c.write(upgrade(port, { lines: ["HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA"] }).replace("Upgrade: websocket", "Upgrade: h2c").replace("Connection: Upgrade", "Connection: Upgrade, HTTP2-Settings")),
      statuses: [REFUSAL],
      required: 0,
      switches: false,
    },
  ];

  const names = cases(0).map((c) => c.name);
  test.each(names)("%s", async (name) => {
    await check(cases(app.port).find((c) => c.name === name)!);
  });

  // Resets and half-closes at every step.
  type Action = "destroy" | "reset" | "half-close";
  const actions: Action[] = ["destroy", "reset", "half-close"];
  const act = (client: WireClient, action: Action): void => {
    if (action === "destroy") client.destroy();
    else if (action === "reset") client.reset();
    else client.halfClose();
  };

  /** After a reset or destroy the client reads nothing; after a half-close, it reads what the server sends until it closes. */
  async function afterAction(client: WireClient, action: Action, target = app, targetSockets = sockets): Promise<void> {
    if (action === "half-close") {
      const closed = await client.closed(BOUND, () => faults.recorded.length > 0);
      await faults.expectNone();
      const stream = client.stream();
      expect(stream.malformed, describeStream(client, stream)).toBeUndefined();
      expect(closed, `the server did not close a half-closed connection within ${BOUND} ms: ${describeStream(client, stream)}`).toBe(true);
    }
    await afterCase(target, targetSockets);
  }

  const steps: Array<[string, (client: WireClient, port: number) => Promise<void> | void]> = [
    ["in the middle of the request line", (c) => c.write("GET /ec")],
    ["in the middle of the headers", (c, port) => c.write(upgrade(port).slice(0, 60))],
    ["right after the headers", (c, port) => c.write(upgrade(port))],
    [
      "right after the 101",
      async (c, port) => {
        c.write(upgrade(port));
        expect(await c.waitFor((x) => x.stream().switched, BOUND)).toBe(true);
      },
    ],
  ];
  for (const [step, run] of steps) {
    test.each(actions)(`%s ${step}`, async (action) => {
      const client = await WireClient.open(app.port);
      await run(client, app.port);
      act(client, action);
      await afterAction(client, action);
    });
  }

  // While the upgrade waits on async code: framework middleware (framework styles), authenticate (all).
  describe("while the upgrade waits", () => {
    let gated: Mounted;
    let gatedSockets: ServerSockets;
    const held: Array<() => void> = [];
    const hold = (): Promise<void> => new Promise((resolve) => held.push(resolve));

    beforeAll(async () => {
      const options = {
        handshakeTimeout: HANDSHAKE_TIMEOUT * 4,
        pingInterval: 0,
        authenticate: (request: { headers: Record<string, unknown> }) => (request.headers["x-hold"] === "authenticate" ? hold().then(() => ({})) : {}),
      };
      gated =
        style.name === "node"
          ? await style.start(options, echo)
          : await startWithMiddleware(style.name, options, echo, (headers) => (headers["x-hold"] === "middleware" ? hold() : undefined));
      gatedSockets = trackServerSockets(gated.server);
    });
    afterEach(() => {
      for (const release of held.splice(0)) release();
      gatedSockets.destroyAll();
    });
    afterAll(async () => {
      gatedSockets.destroyAll();
      await gated.close();
    });

    const where = style.middleware ? ["middleware", "authenticate"] : ["authenticate"];
    for (const place of where) {
      test.each(actions)(`%s during async ${place === "middleware" ? "framework middleware" : "authenticate"}`, async (action) => {
        const client = await WireClient.open(gated.port);
        client.write(upgrade(gated.port, { headers: { "x-hold": place } }));
        expect(await waitFor(() => held.length > 0, BOUND), `the request reached ${place}`).toBe(true);
        act(client, action);
        // Ordering, not a wait for something not to happen: the FIN or RST reaches the server before the held code goes on.
        await new Promise((resolve) => setTimeout(resolve, 20));
        for (const release of held.splice(0)) release();
        await afterAction(client, action, gated, gatedSockets);
      });
    }
  });

  test("a socket left by the framework (404) and ignored by another 'upgrade' listener is still closed by the deadline", async () => {
    const short = await style.start({ handshakeTimeout: 300, pingInterval: 0 }, echo);
    const shortSockets = trackServerSockets(short.server);
    // Another 'upgrade' listener on the same server that serves /other only, and ignores the rest.
    short.server.on("upgrade", (request, socket) => {
      if (request.url === "/other") socket.end("HTTP/1.1 418 I'm a teapot\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    });
    try {
      // The other listener still gets its own path.
      const other = await WireClient.open(short.port);
      other.write(upgrade(short.port, { path: "/other" }));
      expect(await other.closed(BOUND)).toBe(true);
      const answered = other.stream();
      expect(answered.malformed).toBeUndefined();
      expect(answered.responses.map((r) => r.status)).toEqual([418]);

      const client = await WireClient.open(short.port);
      client.write(upgrade(short.port, { path: "/nothing" }));
      const closed = await client.closed(300 + BOUND, () => faults.recorded.length > 0);
      await faults.expectNone();
      const stream = client.stream();
      expect(stream.malformed, describeStream(client, stream)).toBeUndefined();
      expect(closed, `the socket is still open ${300 + BOUND} ms after the upgrade request (handshakeTimeout 300): ${describeStream(client, stream)}`).toBe(true);
      expect(stream.switched).toBe(false);
      await afterCase(short, shortSockets);
    } finally {
      destroyWireClients();
      shortSockets.destroyAll();
      await short.close();
    }
  });

  if (style.middleware) {
    /** Runs `use` against a fixture whose middleware never lets a request with `x-hold` go on, with a 300 ms deadline. */
    async function withStuckMiddleware(use: (stuck: Mounted, stuckSockets: ServerSockets) => Promise<void>): Promise<void> {
      const stuck = await startWithMiddleware(style.name as "express" | "fastify" | "koa", { handshakeTimeout: 300, pingInterval: 0 }, echo, (headers) =>
        headers["x-hold"] === "1" ? new Promise<void>(() => undefined) : undefined,
      );
      const stuckSockets = trackServerSockets(stuck.server);
      try {
        await use(stuck, stuckSockets);
      } finally {
        destroyWireClients();
        stuckSockets.destroyAll();
        await stuck.close();
      }
    }

    test("an upgrade that framework middleware never lets through is ended by the deadline", async () => {
      await withStuckMiddleware(async (stuck, stuckSockets) => {
        const client = await WireClient.open(stuck.port);
        client.write(upgrade(stuck.port, { headers: { "x-hold": "1" } }));
        const closed = await client.closed(300 + BOUND, () => faults.recorded.length > 0);
        await faults.expectNone();
        const stream = client.stream();
        const seen = describeStream(client, stream);
        expect(stream.malformed, seen).toBeUndefined();
        expect(closed, `still open ${300 + BOUND} ms after the upgrade request (handshakeTimeout 300): ${seen}`).toBe(true);
        expect(stream.switched, seen).toBe(false);
        stream.responses.forEach((response) => expect(REFUSAL, seen).toContain(response.status));
        await afterCase(stuck, stuckSockets);
      });
    });

    test("an upgrade pipelined behind a plain request that is never answered is ended by the deadline, with nothing out of order", async () => {
      await withStuckMiddleware(async (stuck, stuckSockets) => {
        const client = await WireClient.open(stuck.port);
        client.write(`GET /nothing HTTP/1.1\r\nHost: 127.0.0.1:${stuck.port}\r\nx-hold: 1\r\n\r\n` + upgrade(stuck.port));
        const closed = await client.closed(300 + BOUND, () => faults.recorded.length > 0);
        await faults.expectNone();
        const stream = client.stream();
        const seen = describeStream(client, stream);
        expect(stream.malformed, seen).toBeUndefined();
        expect(closed, `still open ${300 + BOUND} ms after the upgrade request (handshakeTimeout 300): ${seen}`).toBe(true);
        expect(stream.switched, seen).toBe(false);
        // The first request has no answer: anything written would be taken for its answer, so at most a 5xx for it.
        expect(stream.responses.length, seen).toBeLessThanOrEqual(1);
        stream.responses.forEach((response) => expect(response.status, seen).toBeGreaterThanOrEqual(500));
        await afterCase(stuck, stuckSockets);
      });
    });
  }

  test(`${RUNS} random interleavings of requests, upgrades, garbage, splits, half-closes and resets`, async () => {
    await fc.assert(
      fc.asyncProperty(interleaving(), async (scenario) => {
        await runInterleaving(scenario);
      }),
      { numRuns: RUNS, seed: Number(process.env.WSMOUNT_FC_SEED ?? 20_260_101), endOnFailure: true },
    );
  });

  /** Plays one random scenario and checks what the server did. */
  async function runInterleaving(scenario: Scenario): Promise<void> {
    const pieces = scenario.pieces.map((piece) => ({ piece, bytes: Buffer.from(serialisePiece(piece, app.port), "latin1") }));
    const all = Buffer.concat(pieces.map((p) => p.bytes));
    const cut = scenario.end.kind === "none" ? all.length : scenario.end.at % (all.length + 1);
    const offsets = [...new Set(scenario.splits.map((s) => s % (cut + 1)))].sort((a, b) => a - b);
    const client = await WireClient.open(app.port);
    let from = 0;
    for (const offset of [...offsets, cut]) {
      if (offset > from) client.write(all.subarray(from, offset));
      from = Math.max(from, offset);
      if (scenario.pause) await turn();
    }
    if (scenario.end.kind !== "none") act(client, scenario.end.kind);
    const context = `scenario ${JSON.stringify({ ...scenario, pieces: scenario.pieces.map(pieceName) })}, cut at ${cut}/${all.length}`;

    if (scenario.end.kind === "reset") {
      await afterCase();
      return;
    }
    // Which pieces were written whole, and what each should be answered with.
    let written = 0;
    const complete: Piece[] = [];
    for (const { piece, bytes } of pieces) {
      if (written + bytes.length > cut) break;
      written += bytes.length;
      complete.push(piece);
    }
    const partial = cut > written;
    const halfClosed = scenario.end.kind === "half-close";
    const firstOther = complete.findIndex((p) => p.kind !== "plain");
    const plainCount = firstOther === -1 ? complete.length : firstOther;
    const onlyPlain = firstOther === -1 && !partial && !halfClosed;

    await client.waitFor((c) => {
      const s = c.stream();
      return c.ended || s.switched || s.malformed !== undefined || (onlyPlain && s.responses.length >= plainCount);
    }, BOUND, () => faults.recorded.length > 0);
    await faults.expectNone();
    let stream = client.stream();
    const seen = `${context}: ${describeStream(client, stream)}`;
    expect(stream.malformed, seen).toBeUndefined();
    // In order: the plain requests' answers, then at most one answer to what came next.
    const allowed: Array<readonly number[]> = complete.slice(0, plainCount).map((p) => [expectedStatus(p, style)]);
    const next = complete[plainCount];
    if (next !== undefined) {
      const expected = expectedStatus(next, style);
      allowed.push(next.kind === "garbage" ? [400] : expected === 101 ? [101, ...REFUSAL] : [expected, ...REFUSAL]);
    } else if (partial) {
      allowed.push(REFUSAL);
    }
    if (next?.kind === "garbage") {
      // The framework's own parse-error handling (Fastify's clientError handler answers 400 at once, ahead of
      // responses still in the works): a 400 may take the place of any earlier answer, and ends the exchange.
      for (let i = 0; i < plainCount; i++) allowed[i] = [...allowed[i]!, 400];
      const refused = stream.responses.findIndex((r) => r.status === 400);
      if (refused !== -1) expect(stream.responses.length, `nothing after the 400: ${seen}`).toBe(refused + 1);
    }
    expect(stream.responses.length, `at most ${allowed.length} response(s): ${seen}`).toBeLessThanOrEqual(allowed.length);
    stream.responses.forEach((response, i) => expect(allowed[i], `response ${i + 1} has status ${response.status}: ${seen}`).toContain(response.status));
    const garbage = complete.some((p) => p.kind === "garbage");
    if (!halfClosed && !garbage) {
      expect(stream.responses.length, `the answers to the ${plainCount} plain request(s) before anything else: ${seen}`).toBeGreaterThanOrEqual(plainCount);
    }
    if (onlyPlain) {
      expect(stream.responses.length, seen).toBe(plainCount);
    } else {
      expect(client.ended || stream.switched, `neither closed nor switched within ${BOUND} ms: ${seen}`).toBe(true);
    }
    if (stream.switched) {
      // Bytes written after the upgrade request are WebSocket data, and never a valid masked frame here.
      const upgradeEnd = pieces.slice(0, plainCount + 1).reduce((sum, p) => sum + p.bytes.length, 0);
      const trailing = cut - upgradeEnd;
      if (trailing >= 2) {
        expect(await client.closed(BOUND), `no close after invalid WebSocket data: ${seen}`).toBe(true);
        stream = client.stream();
        expect(stream.malformed, seen).toBeUndefined();
        expect(stream.closeCode, `close code after ${trailing} bytes of invalid WebSocket data: ${describeStream(client, stream)}`).toBe(1002);
      } else if (halfClosed) {
        expect(await client.closed(BOUND), `a half-closed WebSocket connection was not closed: ${seen}`).toBe(true);
      } else if (trailing === 0) {
        expect(await client.echoCheck(BOUND), seen).toBeUndefined();
      }
    } else if (halfClosed) {
      expect(await client.closed(BOUND), `a half-closed connection was not closed: ${seen}`).toBe(true);
      expect(client.stream().malformed, seen).toBeUndefined();
    }
    await afterCase();
  }
});

/** One piece of a random scenario. */
type Piece =
  | { kind: "plain"; path: "/nothing" | "/echo" }
  | { kind: "upgrade"; variant: "valid" | "unrouted" | "version" | "no-key" | "denied" }
  | { kind: "garbage"; text: string };

interface Scenario {
  pieces: Piece[];
  /** Byte offsets at which the bytes are split into writes (modulo the length). */
  splits: number[];
  /** Let the event loop turn between writes. */
  pause: boolean;
  /** What the client does at byte `at` (modulo the length + 1): nothing, a half-close, a reset. */
  end: { kind: "none" } | { kind: "half-close" | "reset"; at: number };
}

/**
 * Garbage the HTTP parser rejects as soon as it sees it (so that the server never waits for more), and
 * that is never a valid masked frame (after a 101, it must be a protocol error).
 */
const GARBAGE = ["XYZZY / HTTP/1.1\r\n\r\n", "\u0000\u0001\u0002\u0003", "HTTP/1.1 200 OK\r\n\r\n", "GET /echo HTTP/9.9\r\n\r\n", "GET\r\n\r\n", "G\u0000T / HTTP/1.1\r\n\r\n"];

function interleaving(): fc.Arbitrary<Scenario> {
  const piece: fc.Arbitrary<Piece> = fc.oneof(
    { weight: 3, arbitrary: fc.record({ kind: fc.constant("plain" as const), path: fc.constantFrom("/nothing" as const, "/echo" as const) }) },
    {
      weight: 3,
      arbitrary: fc.record({ kind: fc.constant("upgrade" as const), variant: fc.constantFrom("valid" as const, "valid" as const, "unrouted" as const, "version" as const, "no-key" as const, "denied" as const) }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("garbage" as const), text: fc.constantFrom(...GARBAGE) }) },
  );
  return fc.record({
    pieces: fc.array(piece, { minLength: 1, maxLength: 5 }),
    splits: fc.array(fc.nat({ max: 100_000 }), { maxLength: 4 }),
    pause: fc.boolean(),
    end: fc.oneof(
      { weight: 2, arbitrary: fc.constant({ kind: "none" as const }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom("half-close" as const, "reset" as const), at: fc.nat({ max: 100_000 }) }) },
    ),
  });
}

function pieceName(piece: Piece): string {
  return piece.kind === "plain" ? `GET ${piece.path}` : piece.kind === "upgrade" ? `upgrade:${piece.variant}` : `garbage:${JSON.stringify(piece.text)}`;
}

function serialisePiece(piece: Piece, port: number): string {
  switch (piece.kind) {
    case "plain":
      return plain(port, piece.path);
    case "garbage":
      return piece.text;
    case "upgrade":
      switch (piece.variant) {
        case "valid":
          return upgrade(port);
        case "unrouted":
          return upgrade(port, { path: "/nothing" });
        case "version":
          return upgrade(port).replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 12");
        case "no-key":
          return upgrade(port).replace(/Sec-WebSocket-Key: [^\r]*\r\n/, "");
        case "denied":
          return upgrade(port, { headers: { "x-deny": "1" } });
      }
  }
}

function expectedStatus(piece: Piece, style: MountStyle): number {
  const status = statusesOf(style);
  switch (piece.kind) {
    case "plain":
      return piece.path === "/echo" ? status.plainEcho : status.nothing;
    case "garbage":
      return 400;
    case "upgrade":
      return { valid: 101, unrouted: 404, version: 426, "no-key": 400, denied: status.denied }[piece.variant];
  }
}

/** Polls `condition` every 10 ms until it holds or `timeout` ms pass; resolves whether it held. */
async function waitFor(condition: () => boolean, timeout: number): Promise<boolean> {
  const deadline = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}
