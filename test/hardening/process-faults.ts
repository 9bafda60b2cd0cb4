/**
 * Watches the process for what would end a Node process by default: an `uncaughtException` or an
 * `unhandledRejection`. Installed around each test of the file that calls it.
 */
import { afterEach, beforeEach, expect } from "vitest";

export interface ProcessFaults {
  /** What reached the process since the test started. */
  readonly seen: Array<{ kind: "uncaughtException" | "unhandledRejection"; error: unknown }>;
  /** Lets Node's rejection tracking run (it reports after the microtask queue drains), then expects nothing seen. */
  none(): Promise<void>;
}

export function watchProcessFaults(): ProcessFaults {
  const seen: ProcessFaults["seen"] = [];
  const onException = (error: unknown) => void seen.push({ kind: "uncaughtException", error });
  const onRejection = (error: unknown) => void seen.push({ kind: "unhandledRejection", error });
  beforeEach(() => {
    seen.length = 0;
    process.on("uncaughtException", onException);
    process.on("unhandledRejection", onRejection);
  });
  afterEach(() => {
    process.off("uncaughtException", onException);
    process.off("unhandledRejection", onRejection);
  });
  return {
    seen,
    async none() {
      // Two turns of the event loop: unhandled rejections are reported once the microtasks of a turn are done.
      for (let i = 0; i < 2; i++) await new Promise((resolve) => setImmediate(resolve));
      expect(seen.map((fault) => `${fault.kind}: ${String((fault.error as Error)?.message ?? fault.error)}`)).toEqual([]);
    },
  };
}
