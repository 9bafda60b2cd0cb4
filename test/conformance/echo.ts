/**
 * The connection handlers the conformance suite mounts.
 */
import type { TestConnection } from "./standin.js";

/** Echo every message back with its own type: text as text, binary as binary. */
export function echo(conn: TestConnection): void {
  conn.onMessage((data, isBinary) => {
    conn.send(isBinary || typeof data === "string" ? data : data.toString("utf8"));
  });
}
