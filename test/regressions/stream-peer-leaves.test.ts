import { afterEach, expect, it } from "vitest";
import WebSocket from "ws";
import type { Connection } from "../../core/index.js";
import { mounts, type Mounted } from "../helpers/mounts.js";
import { until } from "../helpers/client.js";

const style = mounts.find((m) => m.name === "express")!;
let app: Mounted | undefined;
const cleanup: Array<() => void> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0)) f();
  await app?.close();
  app = undefined;
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it("a client leaving during a streamed message is reported to the connection, never an uncaught error", async () => {
  let conn!: Connection<any>;
  const errors: unknown[] = [];
  app = await style.start({}, (c) => void (conn = c));
  const client = new WebSocket(app.url());
  await new Promise((r) => client.once("open", r));
  await until(() => conn !== undefined, "conn");
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown) => uncaught.push(e);
  process.prependListener("uncaughtException", onUncaught);
  cleanup.push(() => process.removeListener("uncaughtException", onUncaught));
  conn.onError((e) => errors.push(e));
  const w = conn.stream();
  w.write(Buffer.alloc(100));
  client.terminate();
  await until(() => conn.readyState === 3, "server sees close");
  w.write(Buffer.alloc(100));
  w.end();
  await sleep(100);
  expect(uncaught).toEqual([]);
  expect(errors.map((e) => (e as { code?: string }).code)).toContain("ERR_WSMOUNT_NOT_OPEN");
});

it("the removers from onMessage and onClose take out their own handler, with one handler or several", async () => {
  let conn!: Connection<any>;
  app = await style.start({}, (c) => void (conn = c));
  const client = new WebSocket(app.url());
  await new Promise((r) => client.once("open", r));
  await until(() => conn !== undefined, "conn");
  const got: string[] = [];
  const offA = conn.onMessage((data) => void got.push(`a:${String(data)}`));
  client.send("1");
  await until(() => got.length === 1, "first message");
  const offB = conn.onMessage((data) => void got.push(`b:${String(data)}`));
  conn.onMessage((data) => void got.push(`c:${String(data)}`));
  offA();
  client.send("2");
  await until(() => got.length === 3, "second message");
  offB();
  offB();
  client.send("3");
  await until(() => got.length === 4, "third message");
  expect(got).toEqual(["a:1", "b:2", "c:2", "c:3"]);
  const closes: string[] = [];
  const offClose = conn.onClose(() => void closes.push("removed"));
  conn.onClose(() => void closes.push("kept"));
  offClose();
  client.close();
  await until(() => closes.length > 0, "close handlers");
  await sleep(50);
  expect(closes).toEqual(["kept"]);
});
