import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { partOf, summarize } from "../profile/summarize.js";

const frame = (functionName: string, url: string) => ({ functionName, url, lineNumber: 0 });

describe("CPU profile summary", () => {
  it("puts each function in its part of the server", () => {
    expect(partOf(frame("(idle)", ""))).toBeNull();
    expect(partOf(frame("(garbage collector)", ""))).toBe("garbage collection");
    expect(partOf(frame("writev", ""))).toMatch(/kernel calls/);
    expect(partOf(frame("completeUpgrade", "file:///x/node_modules/ws/lib/websocket-server.js"))).toBe("ws");
    expect(partOf(frame("handle", "file:///x/node_modules/router/index.js"))).toMatch(/Express/);
    expect(partOf(frame("complete", "file:///work/main/core/upgrade/accept.ts"))).toBe("wsmount");
    expect(partOf(frame("complete", "file:///srv/app/node_modules/wsmount/dist/core/upgrade/accept.js"))).toBe("wsmount");
    expect(partOf(frame("NodeError", "node:internal/errors"))).toMatch(/errors/);
    expect(partOf(frame("Socket", "node:net"))).toBe("Node TCP sockets");
  });

  it("divides self time by the operations, leaving out idle time and the profiler's own start", () => {
    const profile = {
      nodes: [
        { id: 1, callFrame: frame("(root)", ""), children: [2, 3, 4, 5] },
        { id: 2, callFrame: frame("(idle)", "") },
        { id: 3, callFrame: frame("complete", "file:///work/main/core/upgrade/accept.ts") },
        { id: 4, callFrame: frame("post", "node:inspector"), children: [6] },
        { id: 5, callFrame: frame("(garbage collector)", "") },
        { id: 6, callFrame: frame("dispatch", "") },
      ],
      samples: [2, 3, 3, 5, 6, 4],
      timeDeltas: [1000, 100, 100, 50, 500, 500],
    };
    const path = join(mkdtempSync(join(tmpdir(), "profile-")), "p.cpuprofile");
    writeFileSync(path, JSON.stringify(profile));
    const summary = summarize(path, 10);
    expect(summary.busyPerOp).toBeCloseTo(25);
    expect(summary.parts.get("wsmount")).toBeCloseTo(20);
    expect(summary.parts.get("garbage collection")).toBeCloseTo(5);
    expect([...summary.parts.keys()]).toEqual(["wsmount", "garbage collection"]);
  });
});
