/** Describes the machine, software versions and revision a run happened on. */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, loadavg, release, totalmem, type } from "node:os";
import { join } from "node:path";

export interface MachineInfo {
  cpu: string;
  logicalCores: number;
  memoryGiB: number;
  os: string;
  node: string;
  v8: string;
  /** Load average (1 min) when the run started: the machine may be shared. */
  loadAverage: number;
  revision: string;
  versions: Record<string, string>;
}

/** Packages whose versions the report states (name -> package.json path under node_modules). */
const VERSIONED: Record<string, string> = {
  ws: "ws",
  express: "express",
  fastify: "fastify",
  koa: "koa",
  "@koa/router": "@koa/router",
  "express-ws": "express-ws",
  "ws (inside express-ws)": "express-ws/node_modules/ws",
  "@fastify/websocket": "@fastify/websocket",
  "koa-easy-ws": "koa-easy-ws",
  "socket.io": "socket.io",
  "socket.io-client": "socket.io-client",
  "@trufflesuite/uws-js-unofficial": "@trufflesuite/uws-js-unofficial",
  bufferutil: "bufferutil",
  tsx: "tsx",
};

function versionOf(root: string, path: string): string | null {
  try {
    return (JSON.parse(readFileSync(join(root, "node_modules", path, "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return null;
  }
}

function git(root: string, ...args: string[]): string {
  return (spawnSync("git", ["-C", root, ...args], { encoding: "utf8" }).stdout ?? "").trim();
}

/** Collects {@link MachineInfo}. */
export function describeMachine(root: string): MachineInfo {
  const versions: Record<string, string> = {};
  for (const [name, path] of Object.entries(VERSIONED)) {
    const version = versionOf(root, path);
    if (version) versions[name] = version;
  }
  const commit = git(root, "rev-parse", "--short", "HEAD") || "unknown";
  const dirty = git(root, "status", "--porcelain").length > 0 ? " (with uncommitted changes)" : "";
  return {
    cpu: cpus()[0]?.model.trim() ?? "unknown",
    logicalCores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${type()} ${release()}`,
    node: process.version,
    v8: process.versions.v8,
    loadAverage: loadavg()[0] ?? 0,
    revision: commit + dirty,
    versions,
  };
}
