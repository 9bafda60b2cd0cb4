import { describe, expect, test } from "vitest";
import { EPISODE_QUIET_MS, FaultLog, type Logger } from "../../core/fault-log.js";

function recorder(): Logger & { errors: string[]; warnings: string[] } {
  const errors: string[] = [];
  const warnings: string[] = [];
  return { errors, warnings, error: (message) => errors.push(message), warn: (message) => warnings.push(message) };
}

describe("FaultLog", () => {
  test("logs the first fault of a kind, counts the rest of the episode, and says how many on the next episode", () => {
    const logger = recorder();
    const log = new FaultLog(logger);
    for (let i = 0; i < 5; i++) log.fault("ERR_A", new Error(`wsmount: failure ${i}`), 1_000 + i);
    expect(logger.errors).toHaveLength(1);
    expect(logger.errors[0]).toContain("failure 0");
    log.fault("ERR_A", new Error("later"), 1_004 + EPISODE_QUIET_MS);
    expect(logger.errors).toHaveLength(2);
    expect(logger.errors[1]).toContain("later");
    expect(logger.errors[1]).toContain("4 more of this kind");
  });

  test("kinds have episodes of their own", () => {
    const logger = recorder();
    const log = new FaultLog(logger);
    log.fault("ERR_A", new Error("a"), 0);
    log.fault("ERR_B", new Error("b"), 1);
    log.fault("ERR_A", new Error("a again"), 2);
    expect(logger.errors).toHaveLength(2);
  });

  test("a recovery ends the episode with a warning; without an episode it says nothing", () => {
    const logger = recorder();
    const log = new FaultLog(logger);
    log.recovered("ERR_BROKER", "the broker");
    expect(logger.warnings).toHaveLength(0);
    log.fault("ERR_BROKER", new Error("down"), 0);
    log.fault("ERR_BROKER", new Error("down"), 1);
    log.recovered("ERR_BROKER", "the broker");
    expect(logger.warnings).toEqual(["wsmount: the broker recovered (1 more failures after the first)"]);
    log.fault("ERR_BROKER", new Error("down again"), 2);
    expect(logger.errors).toHaveLength(2);
  });

  test("a logger that throws does not turn a fault into an exception", () => {
    const log = new FaultLog({ error: () => { throw new Error("logger down"); }, warn: () => { throw new Error("logger down"); } });
    expect(() => log.fault("ERR_A", new Error("x"))).not.toThrow();
    expect(() => log.recovered("ERR_A", "it")).not.toThrow();
  });
});
