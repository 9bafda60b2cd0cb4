import { describe, expect, it } from "vitest";
import { resolveOptions } from "../../core/options.js";
import { InvalidOptionError } from "../../core/errors.js";
import { websocket } from "../../adapters/express.js";
import { DEFAULT_MEMORY_BUDGET, outgoingMemoryBudget, setOutgoingMemoryBudget } from "../../core/memory-budget.js";

function errorOf(fn: () => unknown): TypeError & { option?: string; code?: string } {
  try {
    fn();
  } catch (error) {
    return error as TypeError;
  }
  throw new Error("expected a TypeError");
}

describe("options", () => {
  it("fills in the documented defaults", () => {
    const o = resolveOptions({});
    expect(o).toMatchObject({
      handshakeTimeout: 10_000,
      pingInterval: 30_000,
      pongTimeout: 10_000,
      idleTimeout: 0,
      writeTimeout: 30_000,
      maxMessageSize: 1024 * 1024,
      readBufferSize: 65_536,
      writeBufferSize: 65_536,
      maxBufferedAmount: 8 * 1024 * 1024,
      backpressure: "close",
      subprotocols: [],
      compression: false,
      checkOrigin: true,
      maxConnections: Infinity,
    });
    expect(Object.isFrozen(o)).toBe(true);
    expect(o.generateId({} as never)).toMatch(/^[\w-]{22}$/);
  });

  it.each([
    ["handshakeTimeout", 0],
    ["handshakeTimeout", "10s"],
    ["pingInterval", -1],
    ["pingInterval", 1.5],
    ["pongTimeout", 0],
    ["idleTimeout", NaN],
    ["writeTimeout", null],
    ["maxMessageSize", 0],
    ["readBufferSize", "big"],
    ["writeBufferSize", 0],
    ["maxBufferedAmount", -5],
    ["backpressure", "queue"],
    ["subprotocols", "chat"],
    ["subprotocols", ["bad protocol"]],
    ["subprotocols", ["a", "a"]],
    ["compression", "gzip"],
    ["checkOrigin", "https://x"],
    ["checkOrigin", ["not an origin"]],
    ["authenticate", {}],
    ["generateId", "uuid"],
    ["headers", { "Bad Header": "x" }],
    ["headers", { "X-Ok": "line\r\nbreak" }],
    ["maxConnections", 0],
  ])("rejects %s = %j with a TypeError naming it", (name, value) => {
    const error = errorOf(() => resolveOptions({ [name]: value }));
    expect(error).toBeInstanceOf(TypeError);
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect(error.code).toBe("ERR_WSMOUNT_INVALID_OPTION");
    expect(error.option?.startsWith(name)).toBe(true);
    expect(error.message).toContain(`"${name}`);
  });

  it("rejects unknown options by name", () => {
    const error = errorOf(() => resolveOptions({ pingIntervall: 5 } as never));
    expect(error.message).toContain('"pingIntervall"');
  });

  it("validates nested compression options by their full name", () => {
    expect(errorOf(() => resolveOptions({ compression: { level: 12 } })).message).toContain('"compression.level"');
    expect(errorOf(() => resolveOptions({ compression: { serverMaxWindowBits: 7 } })).message).toContain('"compression.serverMaxWindowBits"');
    expect(errorOf(() => resolveOptions({ compression: { serverNoContextTakeover: "yes" } as never })).message).toContain(
      '"compression.serverNoContextTakeover"',
    );
  });

  it("requires maxBufferedAmount to be at least writeBufferSize", () => {
    expect(errorOf(() => resolveOptions({ writeBufferSize: 2048, maxBufferedAmount: 1024 })).message).toContain('"maxBufferedAmount"');
  });

  it("rejects a maxBufferedAmount below maxMessageSize, saying which to raise, and grows its default with maxMessageSize", () => {
    const error = errorOf(() => resolveOptions({ maxMessageSize: 4 * 1024 * 1024, maxBufferedAmount: 2 * 1024 * 1024 }));
    expect(error.message).toContain('"maxBufferedAmount"');
    expect(error.message).toContain("raise maxBufferedAmount or lower maxMessageSize");
    expect(resolveOptions({}).maxBufferedAmount).toBe(8 * 1024 * 1024);
    expect(resolveOptions({ maxMessageSize: 16 * 1024 * 1024 }).maxBufferedAmount).toBe(32 * 1024 * 1024);
  });

  it("validates allowedHosts, trustProxy and maxPendingHandshakes", () => {
    expect(resolveOptions({}).allowedHosts).toBe("any");
    expect(resolveOptions({ allowedHosts: ["App.Example.com", ".example.org"] }).allowedHosts).toEqual(["app.example.com", ".example.org"]);
    for (const bad of ["example.com", ["https://example.com"], ["example.com:443"], [""], [42]]) {
      expect(errorOf(() => resolveOptions({ allowedHosts: bad as never })).message).toContain('"allowedHosts"');
    }
    expect(errorOf(() => resolveOptions({ trustProxy: "yes" as never })).message).toContain('"trustProxy"');
    expect(resolveOptions({}).maxPendingHandshakes).toBe(1000);
    expect(errorOf(() => resolveOptions({ maxPendingHandshakes: 0 })).message).toContain('"maxPendingHandshakes"');
  });

  it("validates rateLimit by its full name and needs messages or bytes", () => {
    expect(resolveOptions({}).rateLimit).toBe(false);
    expect(resolveOptions({ rateLimit: { messages: 10 } }).rateLimit).toEqual({ messages: 10, bytes: Infinity, interval: 1000, policy: "drop" });
    expect(errorOf(() => resolveOptions({ rateLimit: {} })).message).toContain('"rateLimit"');
    expect(errorOf(() => resolveOptions({ rateLimit: { messages: 0 } })).message).toContain('"rateLimit.messages"');
    expect(errorOf(() => resolveOptions({ rateLimit: { bytes: 1.5 } })).message).toContain('"rateLimit.bytes"');
    expect(errorOf(() => resolveOptions({ rateLimit: { messages: 1, interval: 0 } })).message).toContain('"rateLimit.interval"');
    expect(errorOf(() => resolveOptions({ rateLimit: { messages: 1, policy: "kick" as never } })).message).toContain('"rateLimit.policy"');
    expect(errorOf(() => resolveOptions({ rateLimit: { messages: 1, burst: 3 } as never })).message).toContain('"rateLimit.burst"');
  });

  it("validates the process-wide outgoing memory budget", () => {
    expect(() => setOutgoingMemoryBudget(0)).toThrow(/outgoingMemoryBudget/);
    expect(() => setOutgoingMemoryBudget(-1)).toThrow(TypeError);
    setOutgoingMemoryBudget(Infinity);
    expect(outgoingMemoryBudget()).toBe(Infinity);
    setOutgoingMemoryBudget(DEFAULT_MEMORY_BUDGET);
    expect(outgoingMemoryBudget()).toBeLessThanOrEqual(1024 * 1024 * 1024);
  });

  it("fills compression defaults from true", () => {
    expect(resolveOptions({ compression: true }).compression).toMatchObject({ threshold: 1024, level: 6, serverNoContextTakeover: false, concurrencyLimit: 10 });
  });

  it("validates at endpoint creation, through the adapters", () => {
    expect(() => websocket({ pingInterval: -1 })).toThrow(TypeError);
    expect(() => websocket({ pingInterval: -1 })).toThrow(/pingInterval/);
  });
});
