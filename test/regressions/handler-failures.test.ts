/** A connection's handlers are called through one guard: whatever they throw or reject reaches ws.onError. */
import { expect, it } from "vitest";
import type { Connection } from "../../core/index.js";
import { mountedPerTest } from "../helpers/mounts.js";
import { open, until } from "../helpers/client.js";

const { start, cleanup } = mountedPerTest("node");

it("message, pong, error and close handlers that throw, reject or return a hostile thenable are reported, and the connection goes on", async () => {
  let conn: Connection<any> | undefined;
  const reported: string[] = [];
  const app = await start({}, (c) => {
    conn = c;
    c.onMessage((data) => {
      if (String(data) === "throw") throw new Error("message threw");
      if (String(data) === "reject") return Promise.reject(new Error("message rejected"));
      if (String(data) === "hostile") return { get then() { throw new Error("then getter threw"); } };
      return void c.send(`echo:${String(data)}`);
    });
    c.onPong(() => {
      throw new Error("pong threw");
    });
    c.onError(async () => {
      throw new Error("error handler rejected");
    });
    c.onClose(() => {
      throw new Error("close threw");
    });
  });
  app.endpoint.onError((error) => void reported.push(`${(error as { code?: string }).code}: ${error.message}`));
  const { ws } = await open(app.url());
  cleanup.push(() => ws.terminate());
  await until(() => conn !== undefined, "the connection");
  for (const text of ["throw", "reject", "hostile"]) ws.send(text);
  ws.pong();
  ws.send("still here");
  const echoed = await new Promise<string>((resolve) => ws.once("message", (data) => resolve(String(data))));
  expect(echoed).toBe("echo:still here");
  await until(() => reported.length >= 4, "four handler failures");
  // A streamed message cut by the close is an error of the connection: its (rejecting) error handler runs.
  conn!.stream();
  ws.close();
  await until(() => reported.some((line) => line.includes("close threw")), "the close handler's failure");
  await until(() => reported.some((line) => line.includes("error handler rejected")), "the error handler's failure");
  const failures = reported.filter((line) => line.startsWith("ERR_WSMOUNT_HANDLER_FAILED"));
  for (const what of ["message threw", "message rejected", "then getter threw", "pong threw", "close threw", "error handler rejected"]) {
    expect(failures.some((line) => line.includes(what)), what).toBe(true);
  }
});
