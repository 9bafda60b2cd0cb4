/**
 * Broker failures are visible by default: with no `onError`, an endpoint whose Redis is unreachable
 * logs one line for the whole outage (not one per reconnection attempt), and a "recovered" line when
 * the broker works again; nothing reaches the process.
 */
import { afterEach, describe, expect, it } from "vitest";
import { redisBroker } from "../../adapters/redis.js";
import { createEndpoint, memoryBroker, type Endpoint } from "../../core/index.js";
import { until } from "../helpers/client.js";
import { watchProcessFaults } from "../hardening/process-faults.js";
import { RedisServer, TEST_SECRET, findRedisServer, freePort } from "./harness.js";

const redisBinary = findRedisServer();
const faults = watchProcessFaults();

type Line = [level: "error" | "warn", message: string];

function capturing(lines: Line[]) {
  return {
    error: (message: string) => void lines.push(["error", message]),
    warn: (message: string) => void lines.push(["warn", message]),
  };
}

describe.skipIf(redisBinary === null)("a broker outage without onError", () => {
  let endpoint: Endpoint | undefined;
  let redis: RedisServer | undefined;

  afterEach(async () => {
    await endpoint?.close({ timeout: 100 });
    await redis?.stop();
    endpoint = redis = undefined;
  });

  it("logs one line while Redis is unreachable, however many retries and failed publications, then a recovered line", async () => {
    const port = await freePort();
    const lines: Line[] = [];
    let attempts = 0;
    endpoint = createEndpoint({
      logger: capturing(lines),
      broker: redisBroker({
        prefix: "recovery",
        secret: TEST_SECRET,
        url: `redis://127.0.0.1:${port}`,
        redis: {
          retryStrategy: () => {
            attempts++;
            return 20;
          },
        },
      }),
    });
    await until(() => attempts >= 10, "ten reconnection attempts");
    for (let i = 0; i < 5; i++) endpoint.emit("while-down", i);
    expect(lines).toHaveLength(1);
    expect(lines[0]![0]).toBe("error");
    expect(lines[0]![1]).toMatch(/^wsmount: broker connect failed: /);
    expect(endpoint.cluster.stats().connected).toBe(false);

    redis = new RedisServer(redisBinary!, port);
    await redis.start();
    await until(() => lines.length === 2, "the recovered line", 10_000);
    expect(lines[1]).toEqual(["warn", expect.stringMatching(/^wsmount: the broker of endpoint "default" recovered \(\d+ more failures after the first\)$/)]);
    expect(endpoint.cluster.stats().connected).toBe(true);
    await faults.none();
  });

  it("starts a new episode, logged once, when Redis goes away again after a recovery", async () => {
    const port = await freePort();
    const lines: Line[] = [];
    redis = new RedisServer(redisBinary!, port);
    endpoint = createEndpoint({ logger: capturing(lines), broker: redisBroker({ prefix: "recovery", secret: TEST_SECRET, url: redis.url, redis: { retryStrategy: () => 20 } }) });
    // Down at start, then up: one error line, one recovered line.
    await until(() => lines.length === 1, "the first outage's line");
    await redis.start();
    await until(() => lines.length === 2, "the first recovery");
    await redis.stop();
    await until(() => lines.length === 3, "the second outage's line");
    await redis.start();
    await until(() => lines.length === 4, "the second recovery", 10_000);
    expect(lines.map(([level]) => level)).toEqual(["error", "warn", "error", "warn"]);
    await faults.none();
  });
});

describe("brokers without a recovery signal", () => {
  it("keep working: a broker written for the four-argument connect is called with a fifth it may ignore", () => {
    const inner = memoryBroker();
    const seen: number[] = [];
    const endpoint = createEndpoint({
      broker: {
        connect(channel, deliver, onError, host) {
          seen.push(arguments.length);
          return inner.connect(channel, deliver, onError, host);
        },
      },
    });
    expect(seen).toEqual([5]);
    expect(endpoint.cluster.stats().connected).toBe(true);
    return endpoint.close();
  });
});
