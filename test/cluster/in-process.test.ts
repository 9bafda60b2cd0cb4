/**
 * The Redis broker behind every mounting style, with two endpoints in this process (each with its own
 * broker, as two processes would have) on a real redis-server: shared rooms, graceful leave, the
 * user's own client, isolation by prefix and name, and foreign messages on its channel.
 */
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { redisBroker, type RedisBrokerOptions } from "../../adapters/redis.js";
import type { Connection } from "../../core/index.js";
import { until } from "../helpers/client.js";
import { mounts, type Mounted, type MountStyle } from "../helpers/mounts.js";
import { ProtocolClient } from "../helpers/protocol-client.js";
import { RedisServer, TEST_SECRET, eventually, findRedisServer, freePort } from "./harness.js";

const redisBinary = findRedisServer();

describe.skipIf(redisBinary === null)("Redis broker in one process", () => {
  let redis: RedisServer;
  let admin: Redis;
  const apps: Mounted[] = [];
  const clients: ProtocolClient[] = [];
  let prefixes = 0;

  beforeAll(async () => {
    redis = new RedisServer(redisBinary!, await freePort());
    await redis.start();
    admin = new Redis(redis.url);
  });

  afterAll(async () => {
    admin?.disconnect();
    await redis?.stop();
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await Promise.all(apps.splice(0).map((app) => app.close()));
  });

  /** Starts an app whose connections come in through `connections`. */
  async function start(style: MountStyle, broker: RedisBrokerOptions, name?: string) {
    const connections: Connection<any>[] = [];
    const errors: Error[] = [];
    const app = await style.start({ broker: redisBroker(broker), ...(name === undefined ? {} : { name }) }, (connection) => void connections.push(connection));
    app.endpoint.onError((error) => void errors.push(error));
    apps.push(app);
    await eventually(async () => app.endpoint.cluster.stats().connected, "the broker to connect");
    let opened = 0;
    return {
      app,
      errors,
      /** Connects a client; resolves with it and its server side. */
      async connect(): Promise<[ProtocolClient, Connection<any>]> {
        const client = await ProtocolClient.connect(app.url());
        clients.push(client);
        const index = opened++;
        await until(() => connections.length > index, "the server side of the connection");
        return [client, connections[index]!];
      },
    };
  }

  function options(extra: Partial<RedisBrokerOptions> = {}): RedisBrokerOptions {
    return { url: redis.url, prefix: `inproc-${++prefixes}`, secret: TEST_SECRET, nodeTimeout: 60_000, heartbeatInterval: 20_000, ...extra };
  }

  /** The names of the Redis connections the brokers of `prefix` hold open. */
  async function brokerConnections(prefix: string): Promise<number> {
    const list = (await admin.client("LIST")) as string;
    return list.split("\n").filter((line) => line.includes(` name=wsmount:${prefix} `)).length;
  }

  describe.each(mounts)("$name", (style) => {
    it("shares rooms between two endpoints, leaves the cluster on close and closes its Redis connections", async () => {
      const shared = options();
      const one = await start(style, shared);
      const two = await start(style, shared);
      const [clientOne, connectionOne] = await one.connect();
      const [clientTwo, connectionTwo] = await two.connect();
      connectionOne.join("r");
      connectionTwo.join("r");
      await eventually(async () => (await one.app.endpoint.cluster.roomSize("r")) === 2, "room r to count 2");
      one.app.endpoint.to("r").emit("hello", { from: "one" });
      await clientTwo.waitForEvents("hello", 1);
      await clientOne.waitForEvents("hello", 1);
      // The session as it is now, asked of the process that holds the connection.
      one.app.endpoint.updateSession(connectionOne.id, { user: "ann", seen: 2 });
      expect(await two.app.endpoint.cluster.getSession(connectionOne.id)).toEqual({ user: "ann", seen: 2 });
      expect(await two.app.endpoint.cluster.isOnline(connectionOne.id)).toBe(true);
      expect(await brokerConnections(shared.prefix)).toBe(4);

      await one.app.close();
      apps.splice(apps.indexOf(one.app), 1);
      // Gone at once (nodeTimeout is a minute): a closing endpoint removes its presence.
      expect(await two.app.endpoint.cluster.isOnline(connectionOne.id)).toBe(false);
      expect(await two.app.endpoint.cluster.roomSize("r")).toBe(1);
      expect(await brokerConnections(shared.prefix)).toBe(2);
      expect([...one.errors, ...two.errors]).toEqual([]);
    });
  });

  it("takes the settings of the user's client and never uses nor closes it", async () => {
    const own = new Redis(redis.url, { connectionName: "users-own" });
    try {
      const settings = options({ client: own, url: undefined });
      const one = await start(mounts[3]!, settings);
      const two = await start(mounts[3]!, settings);
      const [client, connection] = await two.connect();
      client.answer("ping", () => "pong");
      await eventually(async () => one.app.endpoint.cluster.isOnline(connection.id), "presence");
      expect(await one.app.endpoint.cluster.emitWithAck(connection.id, "ping")).toBe("pong");
      // Data that JSON cannot carry fails at once, as it does for a local connection.
      await expect(one.app.endpoint.cluster.emitWithAck(connection.id, "ping", 10n, { timeout: 0 })).rejects.toThrow(TypeError);
      expect(await brokerConnections(settings.prefix)).toBe(4);
      await Promise.all(apps.splice(0).map((app) => app.close()));
      expect(await brokerConnections(settings.prefix)).toBe(0);
      expect(own.status).toBe("ready");
      // Still a plain command connection (never put into subscriber mode).
      expect(await own.ping()).toBe("PONG");
      const [ownLine] = ((await admin.client("LIST")) as string).split("\n").filter((line) => line.includes(" name=users-own "));
      expect(ownLine).toMatch(/ sub=0 /);
    } finally {
      own.disconnect();
    }
  });

  it("never bridges endpoints of another prefix or another name", async () => {
    const base = options();
    const sender = await start(mounts[3]!, base);
    const samePrefix = await start(mounts[3]!, base);
    const otherPrefix = await start(mounts[3]!, { ...base, prefix: `${base.prefix}-other` });
    const otherName = await start(mounts[3]!, base, "another-endpoint");
    const [inSame] = await samePrefix.connect();
    const [inOtherPrefix] = await otherPrefix.connect();
    const [inOtherName] = await otherName.connect();
    sender.app.endpoint.emit("isolated");
    sender.app.endpoint.emit("marker");
    // Redis hands a publication to every subscriber of its channel at once.
    await inSame.waitForEvents("marker", 1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(inSame.events("isolated")).toHaveLength(1);
    expect(inOtherPrefix.received).toEqual([]);
    expect(inOtherName.received).toEqual([]);
  });

  it("carries publications of a channel used without an endpoint: text as strings, bytes as bytes", async () => {
    const settings = options();
    const [first, second] = [redisBroker(settings), redisBroker(settings)];
    const got: Array<{ data: unknown; binary: boolean }> = [];
    const errors: Error[] = [];
    const sender = first.connect("app/side-channel", () => {}, (error) => void errors.push(error));
    const receiver = second.connect("app/side-channel", (publication) => void got.push({ data: publication.data, binary: publication.binary }), (error) => void errors.push(error));
    try {
      await eventually(async () => (sender.stats?.().connected ?? false) && (receiver.stats?.().connected ?? false), "both to connect");
      await eventually(async () => {
        sender.publish({ to: [], except: [], data: JSON.stringify({ probe: true }), binary: false });
        await new Promise((resolve) => setTimeout(resolve, 20));
        return got.length > 0;
      }, "the subscription to work");
      got.splice(0);
      sender.publish({ to: [], except: [], data: '{"t":"state","n":"ü"}', binary: false });
      sender.publish({ to: [], except: [], data: new Uint8Array([1, 2, 3]), binary: true });
      await until(() => got.length === 2, "both publications");
      expect(got[0]).toEqual({ data: '{"t":"state","n":"ü"}', binary: false });
      expect(got[1]!.binary).toBe(true);
      expect([...(got[1]!.data as Uint8Array)]).toEqual([1, 2, 3]);
      expect(errors).toEqual([]);
    } finally {
      await Promise.all([sender.close(), receiver.close()]);
    }
    expect(await brokerConnections(settings.prefix)).toBe(0);
  });

  it("reports a foreign message on its channel once, counts it as rejected, and goes on delivering", async () => {
    const settings = options();
    const one = await start(mounts[3]!, settings);
    const two = await start(mounts[3]!, settings);
    const [client] = await two.connect();
    await admin.publish(`${settings.prefix}:default:pub`, "not a wsmount message");
    one.app.endpoint.emit("after");
    await client.waitForEvents("after", 1);
    await until(() => two.errors.length > 0 && one.errors.length > 0, "the errors to be reported");
    expect(two.errors[0]).toMatchObject({ code: "ERR_WSMOUNT_BROKER" });
    expect(two.errors[0]!.message).toMatch(/broker deliver failed: a message on \S+:default:pub was dropped: it is not a message of this broker/);
    expect(two.app.endpoint.cluster.stats()).toMatchObject({ errors: 1, rejected: 1 });
  });
});
