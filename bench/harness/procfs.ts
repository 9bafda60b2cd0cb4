/** CPU time of a process from /proc (Linux); null elsewhere or when the process is gone. */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";

let ticksPerSecond: number | undefined;

/** Clock ticks per second (`getconf CLK_TCK`, 100 when unknown). */
export function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    const answer = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" });
    const parsed = Number.parseInt(answer.stdout ?? "", 10);
    ticksPerSecond = Number.isFinite(parsed) && parsed > 0 ? parsed : 100;
  }
  return ticksPerSecond;
}

/** User + system CPU seconds used so far by `pid` (all its threads), or null. */
export function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    if (!Number.isFinite(utime) || !Number.isFinite(stime)) return null;
    return (utime + stime) / clockTicks();
  } catch {
    return null;
  }
}

/**
 * Seconds the main thread of `pid` has spent runnable but waiting for a CPU (second field of
 * /proc/<pid>/schedstat), or null. Growth during a window means other work competed for the core.
 */
export function runQueueSeconds(pid: number): number | null {
  try {
    const waited = Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[1]);
    return Number.isFinite(waited) ? waited / 1e9 : null;
  } catch {
    return null;
  }
}
