/**
 * Trust boundaries of the Redis broker (issue "Trust boundaries"), on a real redis-server: an attacker
 * is a plain ioredis client that can publish and subscribe with the application's prefix. Two endpoints
 * in this process, each with its own broker, stand for two processes: the victim holds connection
 * "alice", whose session carries a token; the peer is a legitimate process of the same application.
 */
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { redisBroker, type RedisBrokerOptions, type RedisBrokerStats } from "../../adapters/redis.js";
import { Signer, channelTag } from "../../adapters/redis/signing.js";
import { Kind, seal, type Sender } from "../../adapters/redis/wire.js";
import { AckError, WsmountError, type BrokerChannel, type Connection, type Publication } from "../../core/index.js";
import { encodeEvent } from "../../core/protocol/index.js";
import { until, within } from "../helpers/client.js";
import { mounts, type Mounted } from "../helpers/mounts.js";
import { ProtocolClient } from "../helpers/protocol-client.js";
import { CuttableRelay, RedisServer, TEST_SECRET, eventually, findRedisServer, freePort } from "./harness.js";

const redisBinary = findRedisServer();
const node = mounts.find((style) => style.name === "node")!;
const TOKEN = "tok-4f1c9a-never-leaves-its-process";
const WRONG_SECRET = "a guess at the secret, 32 bytes or longer";

/** A sender of forged messages: `signer` signs them (or not: `new Signer([])`) as process `id`. */
function forger(signer: Signer, id: string): Sender {
  let seq = 1_000_000;
  return { signer, node: id, next: () => ++seq };
}

describe.skipIf(redisBinary === null).sequential("trust boundaries of the Redis broker", () => {
  let redis: RedisServer;
  let attacker: Redis;
  let spy: Redis;
  let prefixes = 0;
  const apps: Mounted[] = [];
  const clients: ProtocolClient[] = [];
  const channels: BrokerChannel[] = [];

  beforeAll(async () => {
    redis = new RedisServer(redisBinary!, await freePort());
    await redis.start();
    attacker = new Redis(redis.url);
    spy = new Redis(redis.url);
    // Both reconnect by themselves after the restart test's outage.
    for (const client of [attacker, spy]) client.on("error", () => {});
  });

  afterAll(async () => {
    attacker?.disconnect();
    spy?.disconnect();
    await redis?.stop();
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await Promise.all([...apps.splice(0).map((app) => app.close()), ...channels.splice(0).map((channel) => channel.close())]);
    spy.removeAllListeners("messageBuffer");
    await spy.unsubscribe();
  });

  function settings(extra: Partial<RedisBrokerOptions> = {}): RedisBrokerOptions {
    return { url: redis.url, prefix: `trust-${process.pid}-${++prefixes}`, secret: TEST_SECRET, heartbeatInterval: 100, nodeTimeout: 60_000, ...extra };
  }

  /** The victim (holding alice, who never answers unless told to) and a peer, on brokers with `options` (the peer's own `peerOptions`). */
  async function cluster(options: RedisBrokerOptions, peerOptions: Partial<RedisBrokerOptions> = {}) {
    const victimErrors: Error[] = [];
    const connections: Connection<any>[] = [];
    const victim = await node.start(
      { broker: redisBroker(options), authenticate: () => ({ id: "alice", data: { user: "alice", token: TOKEN } }) },
      (connection) => void connections.push(connection),
    );
    victim.endpoint.onError((error) => void victimErrors.push(error));
    const peer = await node.start({ broker: redisBroker({ ...options, ...peerOptions }) }, () => {});
    // The peer refuses the forgeries on the publication channel too; its reports are not under test here.
    peer.endpoint.onError(() => {});
    apps.push(victim, peer);
    await eventually(async () => victim.endpoint.cluster.stats().connected && peer.endpoint.cluster.stats().connected, "both brokers to connect");
    const alice = await ProtocolClient.connect(victim.url());
    clients.push(alice);
    await eventually(async () => (await peer.endpoint.cluster.isOnline("alice")) === true, "alice to be visible from the peer");
    // What an attacker finds in Redis: the process that holds alice, and so its channel.
    const base = `${options.prefix}:default`;
    const holders = [];
    for (const id of await attacker.smembers(`${base}:nodes`)) if (await attacker.hexists(`${base}:node:${id}:conns`, "alice")) holders.push(id);
    expect(holders).toHaveLength(1);
    const stats = () => victim.endpoint.cluster.stats() as RedisBrokerStats;
    return { victim, peer, alice, victimErrors, base, victimInbox: `${base}:node:${holders[0]!}`, pub: `${base}:pub`, stats };
  }

  /** Subscribes the spy to `channels`; returns every message it gets there, as Buffers, by channel. */
  async function listen(...names: string[]): Promise<Array<{ channel: string; message: Buffer }>> {
    const heard: Array<{ channel: string; message: Buffer }> = [];
    spy.on("messageBuffer", (channel: Buffer, message: Buffer) => void heard.push({ channel: channel.toString(), message }));
    await spy.subscribe(...names);
    return heard;
  }

  it("delivers no forged publication to any client: unsigned, the old format, another secret, another channel's signature, a replay", async () => {
    const { peer, alice, victimErrors, pub, base, stats } = await cluster(settings());
    const heard = await listen(pub);
    // A publication of the peer, signed with the secret, that the attacker copies off the channel.
    peer.endpoint.emit("genuine", 1);
    await alice.waitForEvents("genuine", 1);
    await until(() => heard.length > 0, "the spy to see the peer's publication");
    const captured = heard[0]!.message;

    const forged = (name: string) => encodeEvent("forged", { name });
    const publication = (sender: Sender, channel: string, name: string) => seal(sender, channelTag(channel), Kind.publication, [0, [], []], forged(name));
    const before = stats().rejected;
    await attacker.publish(pub, Buffer.from(`[1,"forger",0,[],[]]\n${forged("old format")}`));
    await attacker.publish(pub, publication(forger(new Signer([]), "forger-00001"), pub, "unsigned"));
    await attacker.publish(pub, publication(forger(new Signer([Buffer.from(WRONG_SECRET)]), "forger-00002"), pub, "another secret"));
    // Signed with the secret for another endpoint's channel, then moved to this one.
    await attacker.publish(pub, publication(forger(new Signer([Buffer.from(TEST_SECRET)]), "forger-00003"), `${base}-other:pub`, "another channel"));
    await attacker.publish(pub, captured);

    // A later publication of the peer reaches alice after everything published before it.
    peer.endpoint.emit("fence");
    await alice.waitForEvents("fence", 1);
    expect(alice.events("forged")).toEqual([]);
    expect(alice.events("genuine")).toEqual([1]);
    expect(stats().rejected - before).toBe(5);
    expect(stats().received).toBe(2);
    // Reported once for the episode, however many were refused.
    const reports = victimErrors.filter((error) => /was dropped/.test(error.message));
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ code: "ERR_WSMOUNT_BROKER" });
    expect(reports[0]!.message).toMatch(/broker deliver failed: a message on \S+:pub was dropped: it is not a message of this broker/);
  });

  it("answers no forged cluster request: session data never leaves for a channel the attacker reads", async () => {
    const { peer, alice, victim, base, victimInbox, pub, stats } = await cluster(settings());
    const inboxes = ["evil", "evil-0000001", "evil-0000002", "ghost-000001"].map((id) => `${base}:node:${id}`);
    const heard = await listen(...inboxes, victimInbox, pub);
    const session = { type: "session" };
    const request = (sender: Sender) => seal(sender, channelTag(victimInbox), Kind.request, [1, "alice", session]);
    const before = stats().rejected;
    await attacker.publish(victimInbox, JSON.stringify([1, "q", "evil", 1, "alice", session]));
    await attacker.publish(victimInbox, request(forger(new Signer([]), "evil-0000001")));
    await attacker.publish(victimInbox, request(forger(new Signer([Buffer.from(WRONG_SECRET)]), "evil-0000002")));
    // Signed with the secret, by a process that is not a live one of the endpoint (a stolen key's
    // holder, or a process long gone): not answered either.
    await attacker.publish(victimInbox, request(forger(new Signer([Buffer.from(TEST_SECRET)]), "ghost-000001")));

    const answered = () => heard.filter(({ channel }) => channel !== victimInbox && channel !== pub);
    await eventually(async () => stats().rejected - before >= 4 || answered().length > 0, "the forged requests to be refused (or answered)");
    // A publication of the victim, after the refusals: any answer to them was published before it.
    victim.endpoint.emit("fence");
    await alice.waitForEvents("fence", 1);
    await until(() => heard.some(({ channel }) => channel === pub), "the spy to see the fence");
    expect(answered()).toEqual([]);
    expect(heard.some(({ message }) => message.includes(TOKEN))).toBe(false);
    expect(stats().rejected - before).toBe(4);

    // The peer, a live process signing with the secret, gets its answer.
    expect(await peer.endpoint.cluster.getSession("alice")).toEqual({ user: "alice", token: TOKEN });
  });

  it("refuses a replayed acknowledged emit: the client gets the call once", async () => {
    const { peer, alice, victimInbox, stats } = await cluster(settings());
    const heard = await listen(victimInbox);
    alice.answer("charge", (amount) => ({ charged: amount }));
    expect(await peer.endpoint.cluster.emitWithAck("alice", "charge", 20)).toEqual({ charged: 20 });
    await until(() => heard.length === 1, "the spy to copy the peer's request");
    const before = stats().rejected;
    await attacker.publish(victimInbox, heard[0]!.message);
    await eventually(async () => stats().rejected > before || alice.events("charge").length > 1, "the replay to be refused (or delivered)");
    // The peer asks again: its new request arrives after the replay, and reaches alice.
    expect(await peer.endpoint.cluster.emitWithAck("alice", "charge", 30)).toEqual({ charged: 30 });
    expect(alice.events("charge")).toEqual([20, 30]);
    expect(stats().rejected - before).toBe(1);
  });

  it("holds nothing for a flood of forged acknowledged emits with timeout 0", async () => {
    const { peer, alice, victimErrors, base, victimInbox, stats } = await cluster(settings());
    const heard = await listen(`${base}:node:evil`, `${base}:node:evil-0000001`);
    const before = stats().rejected;
    const flood = 5000;
    const unsigned = forger(new Signer([]), "evil-0000001");
    const call = { type: "emitWithAck", event: "flood", data: "x".repeat(100), timeout: 0 };
    const pipeline = attacker.pipeline();
    for (let rid = 0; rid < flood; rid++) {
      const message = rid % 2 === 0 ? JSON.stringify([1, "q", "evil", rid, "alice", call]) : seal(unsigned, channelTag(victimInbox), Kind.request, [rid, "alice", call]);
      pipeline.publish(victimInbox, message);
    }
    await pipeline.exec();
    await eventually(async () => stats().rejected - before >= flood || alice.events("flood").length > 0, "the flood to be refused (or delivered)");
    peer.endpoint.emit("fence");
    await alice.waitForEvents("fence", 1);
    expect(alice.events("flood")).toHaveLength(0);
    expect(heard).toEqual([]);
    expect(stats().rejected - before).toBe(flood);
    expect(victimErrors.filter((error) => /was dropped/.test(error.message))).toHaveLength(1);
  });

  it("bounds acknowledged emits of other processes: past maxRemoteRequests they fail at once, and timeout 0 is cut to maxAckTimeout", async () => {
    // The peer would wait a minute (its own maxAckTimeout); the victim, holding alice, waits 2.5 s.
    const { peer, alice } = await cluster(settings({ maxRemoteRequests: 3, maxAckTimeout: 2500 }), { maxAckTimeout: 60_000 });
    const settled: string[] = [];
    // alice never answers "hold": three calls wait, as many as the victim takes.
    const held = [1, 2, 3].map((n) =>
      peer.endpoint.cluster.emitWithAck("alice", "hold", n, { timeout: 0 }).then(
        () => "answered",
        (error: AckError) => {
          settled.push(`held ${n}`);
          return error;
        },
      ),
    );
    await until(() => alice.events("hold").length === 3, "the three calls to reach alice");
    const refused = await peer.endpoint.cluster.emitWithAck("alice", "hold", 4, { timeout: 0 }).then(
      () => null,
      (error: unknown) => error,
    );
    expect(settled).toEqual([]);
    expect(refused).toBeInstanceOf(WsmountError);
    expect(refused).toMatchObject({ code: "ERR_WSMOUNT_BROKER", message: expect.stringMatching(/already works on 3 requests of other processes \(maxRemoteRequests\)/) });
    expect(alice.events("hold")).toEqual([1, 2, 3]);

    // Timeout 0 ("until the connection closes") ends after the victim's maxAckTimeout for a call from another process.
    for (const outcome of await within(Promise.all(held), "the held calls to end", 10_000)) {
      expect(outcome).toBeInstanceOf(AckError);
      expect(outcome).toMatchObject({ code: "ERR_WSMOUNT_ACK_TIMEOUT", message: expect.stringMatching(/cut to maxAckTimeout, 2500 ms, of the process holding the connection/) });
    }
    // The slots are free again.
    alice.answer("ping", () => "pong");
    expect(await peer.endpoint.cluster.emitWithAck("alice", "ping")).toBe("pong");
  });

  it("ends a call with timeout 0 to a process that never answers after maxAckTimeout plus requestTimeout", async () => {
    const options = settings({ maxAckTimeout: 300, requestTimeout: 300 });
    const { peer, base } = await cluster(options);
    // A live process (as far as Redis tells) holding bob, which never answers anything.
    const mute = "mute-0000001";
    await attacker.multi().sadd(`${base}:nodes`, mute).set(`${base}:node:${mute}:alive`, "1", "PX", 60_000).hset(`${base}:node:${mute}:conns`, "bob", "1").exec();
    const started = Date.now();
    const outcome = await within(
      peer.endpoint.cluster.emitWithAck("bob", "never", 1, { timeout: 0 }).then(
        () => null,
        (error: unknown) => error,
      ),
      "the call to end",
      10_000,
    );
    expect(outcome).toBeInstanceOf(AckError);
    expect(outcome).toMatchObject({ code: "ERR_WSMOUNT_ACK_TIMEOUT", message: expect.stringMatching(/within 600 ms \(its timeout cut to maxAckTimeout, 300 ms, plus requestTimeout\)/) });
    expect(Date.now() - started).toBeGreaterThanOrEqual(600);
  });

  it("counts publications lost while Redis restarts as dropped, not published", async () => {
    const relay = new CuttableRelay(redis.port);
    await relay.start();
    try {
      // requestTimeout bounds b's goodbye to Redis at the end, through a relay that is gone by then.
      const options = settings({ redis: { retryStrategy: () => 50 }, requestTimeout: 1000 });
      const got: Publication[] = [];
      const a = redisBroker(options).connect("restart", () => {}, () => {});
      const b = redisBroker({ ...options, url: relay.url }).connect("restart", (publication) => void got.push(publication), () => {});
      channels.push(a, b);
      const stats = () => a.stats!() as RedisBrokerStats;
      const text = (data: string): Publication => ({ to: [], except: [], data, binary: false });
      await eventually(async () => a.stats!().connected && b.stats!().connected, "both to connect");
      // Both subscribed, and a's count of subscribers up to date: its publications reach b and are counted.
      let sent = 0;
      await eventually(async () => {
        a.publish(text(`probe ${++sent}`));
        await new Promise((resolve) => setTimeout(resolve, 20));
        return got.length > 0;
      }, "a publication to reach b");
      await eventually(async () => stats().published + stats().dropped === sent, "every probe to be counted");

      // Redis restarts; b stays away a while longer (its reconnection is slower).
      relay.cut();
      await redis.stop();
      await eventually(async () => !stats().connected, "a to notice the outage");
      await redis.start();
      await eventually(async () => stats().connected, "a to reconnect");
      // a counts the channel's subscribers at its heartbeat: only itself now, as b is not back. That
      // count must not lower what a expects (b is not known to be gone), so wait for a's count first.
      const monitor = await new Redis(redis.url, { lazyConnect: true }).monitor();
      try {
        let counted = 0;
        monitor.on("monitor", (_time: string, args: string[]) => {
          if (args[0]?.toLowerCase() === "pubsub" && args[2] === `${options.prefix}:restart:pub`) counted++;
        });
        await until(() => counted >= 2, "two counts of the channel's subscribers by a");
      } finally {
        monitor.disconnect();
      }
      const before = stats();
      for (let i = 0; i < 5; i++) a.publish(text(`lost ${i}`));
      await eventually(async () => stats().published + stats().dropped === before.published + before.dropped + 5, "the five publications to be counted");
      expect(stats().dropped - before.dropped).toBe(5);
      expect(stats().published).toBe(before.published);

      // b is back: publications reach it and are counted as published again.
      relay.restore();
      await eventually(async () => b.stats!().connected, "b to reconnect");
      const reached = got.length;
      await eventually(async () => {
        a.publish(text("after"));
        await new Promise((resolve) => setTimeout(resolve, 20));
        return got.length > reached;
      }, "a publication to reach b again");
      await eventually(async () => stats().published > before.published, "a publication counted as published");
      expect(got.map(({ data }) => data).filter((data) => String(data).startsWith("lost"))).toEqual([]);
    } finally {
      await relay.stop();
    }
  });

  it("rotates secrets: each process signs with its first secret and accepts either", async () => {
    const current = Buffer.from(TEST_SECRET);
    const next = Buffer.from("the next secret, 32 bytes or longer, for rotation");
    const base = settings();
    const got = { old: [] as unknown[], both: [] as unknown[], rotated: [] as unknown[] };
    const open = (name: keyof typeof got, secret: RedisBrokerOptions["secret"]) => {
      const channel = redisBroker({ ...base, secret }).connect("rotation", (publication) => void got[name].push(publication.data), () => {});
      channels.push(channel);
      return channel;
    };
    // Three steps of a rotation at once: not yet ([current]), accepting the next ([current, next]), signing with it ([next, current]).
    const old = open("old", [current]);
    const both = open("both", [current, next]);
    const rotated = open("rotated", [next, current]);
    await eventually(async () => [old, both, rotated].every((channel) => channel.stats!().connected), "the three to connect");
    const text = (data: string): Publication => ({ to: [], except: [], data, binary: false });
    await eventually(async () => {
      old.publish(text("from old"));
      await new Promise((resolve) => setTimeout(resolve, 20));
      return got.both.includes("from old") && got.rotated.includes("from old");
    }, "old's publications to reach the others");
    rotated.publish(text("from rotated"));
    both.publish(text("from both"));
    await until(() => got.both.includes("from rotated") && got.rotated.includes("from both") && got.old.includes("from both"), "the others' publications");
    // Signed with a secret that old does not know yet: refused there, and only there.
    await eventually(async () => (old.stats!() as RedisBrokerStats).rejected === 1, "old to refuse the rotated publication");
    expect(got.old).not.toContain("from rotated");
    expect((both.stats!() as RedisBrokerStats).rejected).toBe(0);
    expect((rotated.stats!() as RedisBrokerStats).rejected).toBe(0);
  });

  it("with secret: false, trusts whatever is published with the prefix (and is refused by signing processes)", async () => {
    const base = settings();
    const got: unknown[] = [];
    const signedGot: unknown[] = [];
    const trusting = redisBroker({ ...base, secret: false }).connect("open", (publication) => void got.push(publication.data), () => {});
    const signing = redisBroker(base).connect("open", (publication) => void signedGot.push(publication.data), () => {});
    channels.push(trusting, signing);
    await eventually(async () => trusting.stats!().connected && signing.stats!().connected, "both to connect");
    const pub = `${base.prefix}:open:pub`;
    await eventually(async () => {
      await attacker.publish(pub, seal(forger(new Signer([]), "anyone-00001"), channelTag(pub), Kind.publication, [0, [], []], "unsigned"));
      return got.includes("unsigned");
    }, "the unsigned publication to be delivered");
    trusting.publish({ to: [], except: [], data: "from the trusting one", binary: false });
    signing.publish({ to: [], except: [], data: "from the signing one", binary: false });
    await until(() => got.includes("from the signing one"), "the signed publication at the trusting process");
    await eventually(async () => (signing.stats!() as RedisBrokerStats).rejected >= 2, "the signing process to refuse the unsigned ones");
    expect(signedGot).not.toContain("unsigned");
    expect(signedGot).not.toContain("from the trusting one");
  });
});
