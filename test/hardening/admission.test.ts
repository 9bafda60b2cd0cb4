/**
 * A handshake holds a maxConnections slot from its checks until it ends, however it ends: a timed-out
 * or aborted handshake gives its slot back.
 */
import { afterEach, describe, expect, test } from "vitest";
import { handshake, nextMessage, open, rawSocket, refused, until } from "../helpers/client.js";
import { mounts, type Mounted } from "../helpers/mounts.js";

describe.each(mounts)("admission through $name", (mount) => {
  let server: Mounted | null = null;
  afterEach(async () => {
    await server?.close();
    server = null;
  });

  test("handshakes whose authenticate never settles time out and give their slots back", async () => {
    let stuck = 2;
    server = await mount.start(
      {
        pingInterval: 0,
        maxConnections: 2,
        handshakeTimeout: 200,
        logger: false,
        authenticate: () => (stuck-- > 0 ? new Promise(() => {}) : { data: "ok" }),
      },
      (connection) => connection.onMessage((data) => connection.send(data)),
    );
    const first = refused(server.url());
    const second = refused(server.url());
    expect((await first).status).toBe(503);
    expect((await second).status).toBe(503);
    expect(server.endpoint.stats().handshakes.refused.timeout).toBe(2);
    const client = await open(server.url());
    client.ws.send("through");
    expect((await nextMessage(client.ws)).data.toString()).toBe("through");
    client.ws.close();
  });

  test("a client that resets during authenticate gives its slot back, and its late verdict opens nothing", async () => {
    let release: ((value: { data: string }) => void) | null = null;
    let calls = 0;
    server = await mount.start(
      {
        pingInterval: 0,
        maxConnections: 1,
        logger: false,
        authenticate: () => (calls++ === 0 ? new Promise<{ data: string }>((resolve) => (release = resolve)) : undefined),
      },
      (connection) => connection.onMessage((data) => connection.send(data)),
    );
    const socket = await rawSocket(server.port);
    socket.write(handshake("/echo", server.port));
    await until(() => release !== null, "authenticate called");
    // A reset, as a peer that vanishes sends: the server sees it at once (a half-close waits for the deadline).
    socket.resetAndDestroy();
    const client = await openWhenAdmitted(server.url());
    release!({ data: "late" });
    client.ws.send("through");
    expect((await nextMessage(client.ws)).data.toString()).toBe("through");
    expect(server.endpoint.size).toBe(1);
    client.ws.close();
  });
});

/** Opens a client, trying again (bounded) while the server still counts a handshake that is going away. */
async function openWhenAdmitted(url: string): Promise<Awaited<ReturnType<typeof open>>> {
  const deadline = Date.now() + 2_000;
  for (;;) {
    try {
      return await open(url);
    } catch (error) {
      if (Date.now() > deadline || !String(error).includes("503")) throw error;
    }
  }
}
