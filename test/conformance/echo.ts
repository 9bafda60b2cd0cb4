/**
 * The connection handlers the conformance suite mounts.
 */
import type { Connection as TestConnection } from "./targets.js";

/** Echo every message back with its own type: text as text, binary as binary. */
export function echo(conn: TestConnection): void {
  conn.onMessage((data, isBinary) => {
    conn.send(isBinary || typeof data === "string" ? data : data.toString("utf8"));
  });
}
