/** Tests that pin behaviours the suite let through under mutation (M6, M9, M15, M16). */
import { expect, it } from "vitest";
import WebSocket from "ws";
import type { Connection } from "../../core/index.js";
import { mountedPerTest, type Mounted } from "../helpers/mounts.js";
import { closed, until } from "../helpers/client.js";

const { start, cleanup } = mountedPerTest("node");
let app: Mounted | undefined;
async function client(url: string, options?: WebSocket.ClientOptions) {
  const ws = new WebSocket(url, options);
  const texts: string[] = [];
  ws.on("message", (d: Buffer) => texts.push(d.toString()));
  await new Promise((r, j) => (ws.once("open", r), ws.once("error", j)));
  cleanup.push(() => ws.terminate());
  return { ws, texts };
}

it("a broadcast does not overtake a send still being compressed", async () => {
  let conn!: Connection<any>;
  app = await start({ compression: { threshold: 1024 } }, (c) => void (conn = c));
  const { texts } = await client(app.url(), { perMessageDeflate: true });
  await until(() => conn !== undefined, "conn");
  conn.send("a".repeat(256 * 1024)); // deflated asynchronously by ws (context takeover)
  app.endpoint.all().send("small"); // under the threshold: a prepared plain frame
  await until(() => texts.length === 2, "two messages");
  expect(texts.map((t) => t.slice(0, 5))).toEqual(["aaaaa", "small"]);
});

it("stops reading from the socket past readBufferSize while the handler runs", async () => {
  let conn!: Connection<any>;
  let finish!: () => void;
  app = await start({ readBufferSize: 1024 }, (c) => { conn = c; return new Promise<void>((r) => (finish = r)); });
  const { ws } = await client(app.url());
  await until(() => conn !== undefined, "conn");
  for (let i = 0; i < 400; i++) ws.send(Buffer.alloc(1024));
  await until(() => app!.endpoint.stats().messagesIn >= 2, "some messages");
  await new Promise((r) => setTimeout(r, 100));
  // With pause, the server reads at most ~readBufferSize of messages before it stops.
  expect(app.endpoint.stats().messagesIn).toBeLessThan(400);
  finish();
  await until(() => app!.endpoint.stats().messagesIn === 400, "all after release");
});

it("the slow consumer gets close code 1013 once it reads again", async () => {
  let conn!: Connection<any>;
  app = await start({ backpressure: "close", maxMessageSize: 64 * 1024, maxBufferedAmount: 64 * 1024, writeBufferSize: 1024, writeTimeout: 0, pongTimeout: 5000 }, (c) => void (conn = c));
  app.endpoint.onError(() => {});
  const { ws } = await client(app.url());
  await until(() => conn !== undefined, "conn");
  (ws as any)._socket.pause();
  for (let i = 0; i < 500 && conn.readyState === 1; i++) conn.send(Buffer.alloc(64 * 1024));
  const done = closed(ws);
  (ws as any)._socket.resume();
  expect((await done).code).toBe(1013);
});
