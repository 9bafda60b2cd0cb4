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

/** Fields of a /proc stat file after the command name (which is in parentheses and may contain spaces), or null. */
function statFields(path: string): string[] | null {
  try {
    const stat = readFileSync(path, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return null;
  }
}

function cpuOf(fields: string[] | null): number | null {
  if (fields === null) return null;
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return null;
  return (utime + stime) / clockTicks();
}

/** User + system CPU seconds used so far by `pid` (all its threads), or null. */
export function cpuSeconds(pid: number): number | null {
  return cpuOf(statFields(`/proc/${pid}/stat`));
}

/**
 * User + system CPU seconds used so far by the main thread of `pid` alone, or null. In a Node process
 * the difference from {@link cpuSeconds} is mostly V8's helper threads (concurrent marking and
 * sweeping, parallel scavenges, freeing ArrayBuffer memory): garbage-collection work off the main thread.
 */
export function mainThreadCpuSeconds(pid: number): number | null {
  return cpuOf(statFields(`/proc/${pid}/task/${pid}/stat`));
}

/**
 * Minor page faults of `pid` so far (all its threads), or null. Each is memory the process touches for
 * the first time since the kernel gave it (or gave it back): in a virtual machine a few microseconds each.
 */
export function minorFaults(pid: number): number | null {
  const fields = statFields(`/proc/${pid}/stat`);
  const faults = fields === null ? NaN : Number(fields[7]);
  return Number.isFinite(faults) ? faults : null;
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
