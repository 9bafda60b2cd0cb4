/**
 * `wsmount/client` against real wsmount servers, through every mounting style, with handlers that throw and
 * reject on both sides: the failures reach the error handlers (or the caller, as an error answer), the bounds
 * answer with their codes, and neither process sees an uncaught exception or an unhandled rejection.
 */
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { connect, RemoteError, type WsmountClient } from "../../client/index.js";
import { ErrorCode, type Connection } from "../../core/index.js";
import { mounts, type Mounted } from "../helpers/mounts.js";
import { until } from "../helpers/client.js";
import { watchProcessFaults } from "../hardening/process-faults.js";

const faults = watchProcessFaults();

describe.each(mounts)("$name", (style) => {
  let app: Mounted | undefined;
  let client: WsmountClient | undefined;

  afterEach(async () => {
    client?.close();
    client = undefined;
    await app?.close();
    app = undefined;
  });

  it("carries failures of handlers on both sides to the error handlers and the callers, sync and async", async () => {
    const serverErrors: Array<[Error & { code?: string }, Connection<any> | undefined]> = [];
    const connections: Connection<any>[] = [];
    app = await style.start({ maxRoomsPerConnection: 1 }, (connection) => {
      connections.push(connection);
      connection.on("boom", async () => {
        throw Object.assign(new Error("server async"), { code: "E_SERVER" });
      });
      connection.on("join", (room: string) => connection.join(room));
      connection.on("ask", () => {
        connection.emitWithAck("confirm", "sure?", { timeout: 2_000 }).then(
          (value) => connection.emit("answer", { ok: true, value }),
          (error: { code?: string; message: string }) => connection.emit("answer", { ok: false, message: error.message }),
        );
      });
    });
    app.endpoint.onError((error, connection) => void serverErrors.push([error, connection]));
    client = connect(app.url(), { WebSocket, reconnect: false });
    const clientErrors: unknown[] = [];
    client.onError((error) => void clientErrors.push(error));
    client.onConnect(() => {
      throw new Error("client connect");
    });
    client.on("confirm", async () => {
      throw new Error("client answer async");
    });
    client.on("confirm", () => {
      throw new Error("client listener sync");
    });
    const answers: unknown[] = [];
    client.on("answer", (outcome) => void answers.push(outcome));
    client.on("answer", async () => {
      throw new Error("client listener async");
    });

    await expect(client.emitWithAck("boom")).rejects.toMatchObject({ name: "RemoteError", message: "server async", code: "E_SERVER" });
    await until(() => serverErrors.length === 1, "the server's report");
    expect(serverErrors[0]![0].code).toBe(ErrorCode.HANDLER_FAILED);
    expect(serverErrors[0]![1]).toBe(connections[0]);

    expect(await client.emitWithAck("join", "a")).toBe(true);
    const refused = client.emitWithAck("join", "b");
    await expect(refused).rejects.toBeInstanceOf(RemoteError);
    await expect(refused).rejects.toMatchObject({ code: "ERR_WSMOUNT_ROOM_LIMIT" });
    expect([...connections[0]!.rooms]).toEqual(["a"]);

    client.emit("ask");
    await until(() => answers.length === 1, "the server's outcome of its call");
    expect(answers[0]).toEqual({ ok: false, message: "client answer async" });
    await until(() => clientErrors.length === 3, "the client's connect and listener failures");
    expect(clientErrors.map((error) => (error as Error).message).sort()).toEqual(["client connect", "client listener async", "client listener sync"]);
    await faults.none();
  });
});
