/**
 * `endpoint.cluster` with the default in-process broker, through every mounting style: the same API
 * as across processes, where the cluster is this process.
 */
import { afterEach, describe, expect, it } from "vitest";
import { AckError, RemoteError, WsmountError, type Broker, type Connection } from "../../core/index.js";
import { until } from "../helpers/client.js";
import { mounts, type Mounted } from "../helpers/mounts.js";
import { ProtocolClient } from "../helpers/protocol-client.js";

describe.each(mounts)("$name", (style) => {
  let app: Mounted | undefined;
  const clients: ProtocolClient[] = [];
  const connections: Connection<any>[] = [];

  async function start(options: Parameters<typeof style.start>[0] = {}) {
    app = await style.start(options, (connection) => {
      connections.push(connection);
    });
    return app;
  }

  async function connect(): Promise<[ProtocolClient, Connection<any>]> {
    const client = await ProtocolClient.connect(app!.url());
    clients.push(client);
    await until(() => connections.length >= clients.length, "the server side of the connection");
    return [client, connections[clients.length - 1]!];
  }

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    connections.splice(0);
    await app?.close();
    app = undefined;
  });

  it("answers isOnline, roomSize and getSession for this process", async () => {
    const { endpoint } = await start({ authenticate: () => ({ data: { user: "ann" } }) });
    const [, first] = await connect();
    const [, second] = await connect();
    first.join("r");
    second.join("r");
    second.join("s");
    expect(await endpoint.cluster.isOnline(first.id)).toBe(true);
    expect(await endpoint.cluster.isOnline("nobody")).toBe(false);
    expect(await endpoint.cluster.roomSize("r")).toBe(2);
    expect(await endpoint.cluster.roomSize("s")).toBe(1);
    expect(await endpoint.cluster.roomSize("none")).toBe(0);
    expect(await endpoint.cluster.getSession(first.id)).toEqual({ user: "ann" });
    expect(await endpoint.cluster.getSession("nobody")).toBeUndefined();
    second.leave("r");
    expect(await endpoint.cluster.roomSize("r")).toBe(1);
  });

  it("emits with acknowledgement by connection id, rejecting as Connection.emitWithAck does", async () => {
    const { endpoint } = await start({ ackTimeout: 150 });
    const [client, connection] = await connect();
    client.answer("double", (n) => (n as number) * 2);
    client.answer("fail", () => {
      throw Object.assign(new Error("nope"), { code: "E_NOPE" });
    });
    expect(await endpoint.cluster.emitWithAck(connection.id, "double", 4)).toBe(8);
    const remote = await endpoint.cluster.emitWithAck(connection.id, "fail").catch((error: unknown) => error);
    expect(remote).toBeInstanceOf(RemoteError);
    expect(remote).toMatchObject({ message: "nope", code: "E_NOPE", event: "fail" });
    const late = await endpoint.cluster.emitWithAck(connection.id, "silence").catch((error: unknown) => error);
    expect(late).toBeInstanceOf(AckError);
    expect(late).toMatchObject({ code: "ERR_WSMOUNT_ACK_TIMEOUT" });
    const missing = await endpoint.cluster.emitWithAck("nobody", "double", 1).catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(AckError);
    expect(missing).toMatchObject({ code: "ERR_WSMOUNT_DISCONNECTED", event: "double" });
    await expect(endpoint.cluster.emitWithAck("", "double", 1)).rejects.toThrow(TypeError);
    await expect(endpoint.cluster.emitWithAck(connection.id, "double", 10n)).rejects.toThrow(TypeError);
    await expect(endpoint.cluster.emitWithAck(connection.id, "bad\"name", 1)).rejects.toThrow(TypeError);
  });

  it("counts publications in stats", async () => {
    const { endpoint } = await start();
    await connect();
    const before = endpoint.cluster.stats();
    endpoint.emit("tick");
    expect(endpoint.cluster.stats()).toEqual({ ...before, published: before.published + 1 });
    expect(before).toMatchObject({ connected: true, dropped: 0, errors: 0 });
  });
});

describe("a broker without cluster support", () => {
  it("makes cluster queries reject with ERR_WSMOUNT_BROKER and leaves sends working", async () => {
    const delivered: unknown[] = [];
    const bare: Broker = {
      connect: (_name, deliver) => ({
        publish: (publication) => {
          delivered.push(publication.data);
          deliver(publication);
        },
        close: async () => {},
      }),
    };
    const app = await mounts[0]!.start({ broker: bare }, () => {});
    try {
      const error = await app.endpoint.cluster.isOnline("x").catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(WsmountError);
      expect(error).toMatchObject({ code: "ERR_WSMOUNT_BROKER" });
      app.endpoint.emit("hello");
      expect(delivered).toHaveLength(1);
    } finally {
      await app.close();
    }
  });
});
