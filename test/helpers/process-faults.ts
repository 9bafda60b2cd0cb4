/**
 * Records what would crash a server process: uncaught exceptions and unhandled rejections. A test file
 * calls {@link recordProcessFaults} once; each test can check that nothing was recorded while it ran,
 * and after each test the recorder asserts it (vitest reports such errors too, but without naming the
 * test that caused them).
 */
import { afterAll, afterEach, beforeAll, expect } from "vitest";

/** One uncaught exception or unhandled rejection. */
export interface ProcessFault {
  kind: "uncaughtException" | "unhandledRejection";
  error: unknown;
}

export interface ProcessFaults {
  /** Faults recorded since the current test started. */
  readonly recorded: readonly ProcessFault[];
  /** Fails the current test (naming the faults) when any was recorded. */
  expectNone(): Promise<void>;
}

/** `kind: message` of a fault, with the first lines of its stack. */
export function describeFault(fault: ProcessFault): string {
  const error = fault.error;
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const where = (error.stack ?? "").split("\n").slice(1, 4).map((line) => line.trim()).join(" | ");
    return `${fault.kind}: ${error.name}${typeof code === "string" ? ` [${code}]` : ""}: ${error.message} (${where})`;
  }
  return `${fault.kind}: ${String(error)}`;
}

/**
 * Installs `process.on("uncaughtException" | "unhandledRejection")` recorders for this file's tests and
 * asserts after each test that none fired (the faults are forgotten after each test).
 */
export function recordProcessFaults(): ProcessFaults {
  const recorded: ProcessFault[] = [];
  const onException = (error: unknown): void => void recorded.push({ kind: "uncaughtException", error });
  const onRejection = (error: unknown): void => void recorded.push({ kind: "unhandledRejection", error });
  const expectNone = async (): Promise<void> => {
    // Unhandled rejections are reported after the microtask queue drains: give them a turn.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const faults = recorded.splice(0);
    expect(faults.map(describeFault), "uncaught exceptions / unhandled rejections in the server process").toEqual([]);
  };
  beforeAll(() => {
    process.on("uncaughtException", onException);
    process.on("unhandledRejection", onRejection);
  });
  afterEach(expectNone);
  afterAll(() => {
    process.off("uncaughtException", onException);
    process.off("unhandledRejection", onRejection);
  });
  return { recorded, expectNone };
}
