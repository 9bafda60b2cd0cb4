/**
 * The heartbeat counts only a pong that answers its own ping: unsolicited pongs keep nothing alive.
 */
import { afterEach, describe, expect, test } from "vitest";
import { closed, open, until } from "../helpers/client.js";
import { mounts, type Mounted } from "../helpers/mounts.js";

describe.each(mounts)("heartbeat through $name", (mount) => {
  let server: Mounted | null = null;
  afterEach(async () => {
    await server?.close();
    server = null;
  });

  test("a client that sends unsolicited pongs but never answers a ping is cut at pongTimeout", async () => {
    server = await mount.start({ pingInterval: 100, pongTimeout: 200, logger: false }, () => {});
    const client = await open(server.url(), undefined, { autoPong: false });
    let pings = 0;
    client.ws.on("ping", () => void pings++);
    const pongs = setInterval(() => client.ws.pong(Buffer.from("not an answer")), 20);
    try {
      const { code } = await closed(client.ws, 3_000);
      expect(code).toBe(1006);
      expect(pings).toBeGreaterThanOrEqual(1);
      expect(server.endpoint.stats().closedBy.pongTimeout).toBe(1);
    } finally {
      clearInterval(pongs);
    }
  });

  test("a client that answers pings (as browsers and ws do) stays through many intervals", async () => {
    server = await mount.start({ pingInterval: 50, pongTimeout: 100, logger: false }, () => {});
    const client = await open(server.url());
    let pings = 0;
    client.ws.on("ping", () => void pings++);
    await until(() => pings >= 8, "eight pings answered");
    expect(client.ws.readyState).toBe(client.ws.OPEN);
    expect(server.endpoint.stats().closedBy.pongTimeout).toBe(0);
    client.ws.close();
  });
});
