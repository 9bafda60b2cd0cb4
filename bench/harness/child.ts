/**
 * Child processes of a benchmark run: spawned in their own process group (optionally pinned to a
 * core with taskset, with the open-file limit raised), read line by line, always killed.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { availableParallelism } from "node:os";
import { createInterface } from "node:readline";
import { cpuSeconds, mainThreadCpuSeconds, minorFaults, runQueueSeconds } from "./procfs.js";

/** How children are placed on cores. */
export interface Placement {
  /** Core for servers, load generators; undefined when not pinned. */
  serverCore?: number;
  loadCore?: number;
  /** Human-readable description for the report. */
  description: string;
}

/** Pins servers to core 0 and load generators to core 1 when taskset exists and there are 2+ cores. */
export function detectPlacement(): Placement {
  const cores = availableParallelism();
  const taskset = process.platform === "linux" && spawnSync("taskset", ["--version"]).status === 0;
  if (taskset && cores >= 2) {
    return { serverCore: 0, loadCore: 1, description: `taskset: server on core 0, load generator on core 1 (${cores} cores)` };
  }
  return { description: taskset ? `not pinned: only ${cores} core` : "not pinned: taskset not available" };
}

const live = new Set<Child>();

/** Kills every child still running (used on exit, SIGINT and errors). */
export function killAll(): void {
  for (const child of live) child.kill();
}

/** Options of {@link Child.start}. */
export interface ChildOptions {
  label: string;
  argv: string[];
  core?: number;
  env?: Record<string, string>;
  cwd?: string;
}

/** One spawned process with line-oriented stdout. */
export class Child {
  readonly label: string;
  readonly #process: ChildProcessWithoutNullStreams;
  readonly #lines: string[] = [];
  readonly #waiters: Array<{ prefix: string; resolve: (rest: string) => void; reject: (error: Error) => void; timer: NodeJS.Timeout }> = [];
  #stderr = "";
  #exit: string | null = null;

  private constructor(options: ChildOptions) {
    this.label = options.label;
    const argv = options.core === undefined ? options.argv : ["taskset", "-c", String(options.core), ...options.argv];
    // The shell raises the soft open-file limit to the hard one, then execs (same pid, no extra process).
    this.#process = spawn("sh", ["-c", 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', "sh", ...argv], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      detached: true,
      stdio: ["pipe", "pipe", "pipe"],
    });
    live.add(this);
    createInterface({ input: this.#process.stdout }).on("line", (line) => this.#onLine(line));
    this.#process.stderr.on("data", (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString()).slice(-4000);
    });
    this.#process.stdin.on("error", () => {});
    this.#process.on("exit", (code, signal) => {
      this.#exit = signal ? `killed by ${signal}` : `exited with code ${code}`;
      live.delete(this);
      for (const waiter of this.#waiters.splice(0)) {
        clearTimeout(waiter.timer);
        waiter.reject(new Error(`${this.label} ${this.#exit} before "${waiter.prefix}"${this.#stderrNote()}`));
      }
    });
  }

  /** Spawns a child. */
  static start(options: ChildOptions): Child {
    return new Child(options);
  }

  get pid(): number {
    return this.#process.pid ?? -1;
  }

  /** CPU seconds used so far (from /proc), or null when unavailable. */
  cpuSeconds(): number | null {
    return cpuSeconds(this.pid);
  }

  /** CPU seconds of the main thread alone so far (from /proc), or null when unavailable. */
  mainThreadCpuSeconds(): number | null {
    return mainThreadCpuSeconds(this.pid);
  }

  /** Minor page faults so far (from /proc), or null when unavailable. */
  minorFaults(): number | null {
    return minorFaults(this.pid);
  }

  /** Seconds spent waiting for a CPU so far (from /proc), or null when unavailable. */
  runQueueSeconds(): number | null {
    return runQueueSeconds(this.pid);
  }

  /** Last part of stderr, for error messages. */
  get stderr(): string {
    return this.#stderr;
  }

  /** Writes one line to stdin. */
  send(line: string): void {
    if (this.#exit === null) this.#process.stdin.write(`${line}\n`);
  }

  /** Resolves with the rest of the first stdout line that starts with `prefix`. */
  waitFor(prefix: string, timeoutMs: number): Promise<string> {
    const index = this.#lines.findIndex((line) => line.startsWith(prefix));
    if (index >= 0) {
      const [line] = this.#lines.splice(index, 1);
      return Promise.resolve(line!.slice(prefix.length).trim());
    }
    if (this.#exit !== null) return Promise.reject(new Error(`${this.label} ${this.#exit}${this.#stderrNote()}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const at = this.#waiters.findIndex((waiter) => waiter.timer === timer);
        if (at >= 0) this.#waiters.splice(at, 1);
        reject(new Error(`${this.label}: no "${prefix}" within ${timeoutMs} ms${this.#stderrNote()}`));
      }, timeoutMs);
      this.#waiters.push({ prefix, resolve, reject, timer });
    });
  }

  /** Kills the whole process group (SIGKILL); resolves once the process has exited. */
  kill(): Promise<void> {
    if (this.#exit !== null) return Promise.resolve();
    const exited = new Promise<void>((resolve) => this.#process.once("exit", () => resolve()));
    try {
      process.kill(-this.pid, "SIGKILL");
    } catch {
      this.#process.kill("SIGKILL");
    }
    return exited;
  }

  #onLine(line: string): void {
    const at = this.#waiters.findIndex((waiter) => line.startsWith(waiter.prefix));
    if (at >= 0) {
      const [waiter] = this.#waiters.splice(at, 1);
      clearTimeout(waiter!.timer);
      waiter!.resolve(line.slice(waiter!.prefix.length).trim());
      return;
    }
    this.#lines.push(line);
    if (this.#lines.length > 200) this.#lines.shift();
  }

  #stderrNote(): string {
    const tail = this.#stderr.trim().split("\n").slice(-6).join("\n");
    return tail ? `\n${tail}` : "";
  }
}
