/**
 * Isolation: while 200 hostile clients misbehave in every way of hostile.ts at once, 50
 * well-behaved clients (the `ws` client, compression on) keep echoing with no error and no
 * message lost, and every hostile connection is cut by the server.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import WebSocket from "ws";
import { HOSTILE, type HostileOutcome } from "./hostile.js";
import { useHeaderTimeout } from "./slow-clients.js";
import { mounts, type Mounted } from "./targets.js";
import { waitUntil } from "./wait.js";

const HOSTILE_CLIENTS = 200;
const GOOD_CLIENTS = 50;
const MESSAGES_PER_CLIENT = 40;

interface GoodResult {
  echoed: number;
  errors: string[];
}

/** One well-behaved client: sends text and binary messages one after another, checks every echo. */
function goodClient(url: string, seed: number): Promise<GoodResult> {
  return new Promise((resolve) => {
    const result: GoodResult = { echoed: 0, errors: [] };
    const ws = new WebSocket(url);
    let expected: { data: Buffer; isBinary: boolean } | undefined;
    const timer = setTimeout(() => {
      result.errors.push(`timed out after ${result.echoed} echoes`);
      ws.terminate();
    }, 15_000);
    const sendNext = (): void => {
      const i = result.echoed;
      const size = 1 + ((seed * 7919 + i * 104_729) % 16_384);
      const isBinary = i % 2 === 1;
      const data = isBinary ? randomBytes(size) : Buffer.from(randomBytes(Math.ceil(size / 2)).toString("hex").slice(0, size));
      expected = { data, isBinary };
      ws.send(data, { binary: isBinary });
    };
    ws.on("open", sendNext);
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      if (!expected || isBinary !== expected.isBinary || !data.equals(expected.data)) {
        result.errors.push(`echo #${result.echoed} differs`);
        ws.terminate();
        return;
      }
      result.echoed++;
      if (result.echoed < MESSAGES_PER_CLIENT) sendNext();
      else ws.close(1000);
    });
    ws.on("error", (error) => result.errors.push(`error: ${error.message}`));
    ws.on("close", (code) => {
      clearTimeout(timer);
      if (code !== 1000) result.errors.push(`closed with ${code} after ${result.echoed} echoes`);
      resolve(result);
    });
  });
}

describe.each(mounts)("isolation through $name", (mount) => {
  let server: Mounted;

  beforeAll(async () => {
    server = await mount.start(
      {
        handshakeTimeout: 2_000,
        pingInterval: 500,
        pongTimeout: 500,
        idleTimeout: 2_000,
        writeTimeout: 500,
        maxMessageSize: 512 * 1024,
        maxBufferedAmount: 512 * 1024,
        backpressure: "close",
        compression: true,
      },
      (connection) => {
        connection.onMessage((data) => connection.send(data));
      },
    );
    useHeaderTimeout(server.server, 500);
  });
  afterAll(async () => {
    await server.close();
  });

  test(`${GOOD_CLIENTS} clients echo undisturbed while ${HOSTILE_CLIENTS} hostile clients misbehave`, { timeout: 30_000 }, async () => {
    const kinds = Object.keys(HOSTILE);
    const hostile = Array.from({ length: HOSTILE_CLIENTS }, (_, i) => {
      const kind = kinds[i % kinds.length] as string;
      return (HOSTILE[kind] as (port: number, index: number) => Promise<HostileOutcome>)(server.port, Math.floor(i / kinds.length)).catch(
        (error: unknown): HostileOutcome => ({ kind: `${kind} (client failed: ${String(error)})`, cutByServer: false }),
      );
    });
    const good = Array.from({ length: GOOD_CLIENTS }, (_, i) => goodClient(server.url(), i));
    const [goodResults, hostileResults] = await Promise.all([Promise.all(good), Promise.all(hostile)]);

    const goodErrors = goodResults.flatMap((r, i) => r.errors.map((e) => `client ${i}: ${e}`));
    expect(goodErrors).toEqual([]);
    expect(goodResults.reduce((sum, r) => sum + r.echoed, 0)).toBe(GOOD_CLIENTS * MESSAGES_PER_CLIENT);

    expect(hostileResults.filter((r) => r.wronglyAccepted).map((r) => r.kind)).toEqual([]);
    expect(hostileResults.filter((r) => !r.cutByServer).map((r) => r.kind)).toEqual([]);
    expect(await waitUntil(() => server.endpoint.size === 0, 3_000)).toBe(true);
  });
});
