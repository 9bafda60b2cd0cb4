/**
 * Why a target from the issue is not met, per kind of check. Written from the code and the
 * measurements; RESULTS.md prints the entry under every missed check of that kind, next to the
 * automatic notes (load generator saturated, spread larger than the margin).
 */
import type { CheckKind } from "./checks.js";

export const EXPLANATIONS: Partial<Record<CheckKind, string>> = {
  broadcast:
    "wsmount has no fan-out API yet (rooms/broadcast with encode-once arrive with the events layer): its broadcast target is a loop of conn.send over the endpoint's connections, i.e. the same work as raw ws's loop, so it cannot be 1.5x faster until that layer lands.",
  "broadcast-deflate":
    "Same as the plain broadcast: until the fan-out API compresses once per broadcast, every recipient's message is deflated separately, as with raw ws.",
};
