import { describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { backoffDelay, type ResolvedReconnectOptions } from "../../client/backoff.js";
import { connect, type ClientOptions } from "../../client/index.js";
import { resolveClientOptions } from "../../client/options.js";

describe("client options", () => {
  it("fills in the documented defaults", () => {
    expect(resolveClientOptions({ WebSocket })).toEqual({
      protocols: [],
      WebSocket,
      reconnect: { initialDelay: 500, maxDelay: 10_000, factor: 2, jitter: 0.5, maxAttempts: Infinity },
      ackTimeout: 10_000,
      queueSize: 100,
      waitForWelcome: false,
      maxPendingAcks: 1000,
    });
    expect(resolveClientOptions({ WebSocket, reconnect: false }).reconnect).toBe(false);
    expect(resolveClientOptions({ WebSocket, reconnect: { initialDelay: 20_000 } }).reconnect).toMatchObject({
      initialDelay: 20_000,
      maxDelay: 20_000,
    });
  });

  it("throws a TypeError naming each invalid option", () => {
    const cases: Array<[unknown, string]> = [
      [{ WebSocket: "ws" }, "options.WebSocket"],
      [{ WebSocket, protocols: 5 }, "options.protocols"],
      [{ WebSocket, protocols: ["a", 1] }, "options.protocols"],
      [{ WebSocket, reconnect: "yes" }, "options.reconnect"],
      [{ WebSocket, reconnect: null }, "options.reconnect"],
      [{ WebSocket, reconnect: { initialDelay: -1 } }, "options.reconnect.initialDelay"],
      [{ WebSocket, reconnect: { initialDelay: 100, maxDelay: 50 } }, "options.reconnect.maxDelay"],
      [{ WebSocket, reconnect: { factor: 0.5 } }, "options.reconnect.factor"],
      [{ WebSocket, reconnect: { jitter: 1.5 } }, "options.reconnect.jitter"],
      [{ WebSocket, reconnect: { maxAttempts: 1.5 } }, "options.reconnect.maxAttempts"],
      [{ WebSocket, reconnect: { maxAttempts: Number.NaN } }, "options.reconnect.maxAttempts"],
      [{ WebSocket, ackTimeout: -5 }, "options.ackTimeout"],
      [{ WebSocket, ackTimeout: "1s" }, "options.ackTimeout"],
      [{ WebSocket, ackTimeout: 2 ** 31 }, "options.ackTimeout"],
      [{ WebSocket, queueSize: 1.5 }, "options.queueSize"],
      [{ WebSocket, queueSize: -1 }, "options.queueSize"],
      [{ WebSocket, waitForWelcome: 1 }, "options.waitForWelcome"],
      ["opts", "options must be an object"],
    ];
    for (const [options, name] of cases) {
      expect(() => resolveClientOptions(options as ClientOptions), name).toThrow(TypeError);
      expect(() => resolveClientOptions(options as ClientOptions), name).toThrow(name);
    }
  });

  it("requires a WebSocket where the platform has none (Node 20)", () => {
    const global = globalThis as { WebSocket?: unknown };
    const saved = global.WebSocket;
    delete global.WebSocket;
    try {
      expect(() => resolveClientOptions({})).toThrow(/options\.WebSocket/);
    } finally {
      if (saved !== undefined) global.WebSocket = saved;
    }
  });

  it("validates the url and the per-call timeout", () => {
    expect(() => connect(42 as unknown as string, { WebSocket })).toThrow(/url/);
    expect(() => connect("not a url", { WebSocket })).toThrow(SyntaxError);
    const client = connect("ws://127.0.0.1:9/", { WebSocket, reconnect: false });
    try {
      expect(() => client.emitWithAck("x", 1, { timeout: -1 })).toThrow(/options\.timeout/);
    } finally {
      client.close();
    }
  });
});

describe("backoff", () => {
  const options: ResolvedReconnectOptions = { initialDelay: 100, maxDelay: 1_000, factor: 2, jitter: 0.5, maxAttempts: Infinity };

  it("grows by the factor per attempt up to maxDelay", () => {
    const noJitter = [1, 2, 3, 4, 5, 6].map((attempt) => backoffDelay(attempt, options, () => 0));
    expect(noJitter).toEqual([100, 200, 400, 800, 1_000, 1_000]);
  });

  it("removes up to `jitter` of each delay at random", () => {
    expect(backoffDelay(3, options, () => 0.999_999)).toBe(200);
    expect(backoffDelay(3, options, () => 0.5)).toBe(300);
    expect(backoffDelay(3, { ...options, jitter: 0 }, () => 0.9)).toBe(400);
    expect(backoffDelay(50, options, () => 0.5)).toBe(750);
  });
});
