/** The servers compared: wsmount through each adapter, the peers, raw ws and uWebSockets.js. */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { ProtocolName } from "../load/client.js";
import type { ScenarioId } from "../load/spec.js";

/** How a target is drawn and grouped in the report. */
export type TargetGroup = "wsmount" | "baseline" | "peer" | "native";

export interface Target {
  id: string;
  label: string;
  group: TargetGroup;
  /** Server entry, relative to the repository root. */
  server: string;
  protocol: ProtocolName;
  /** npm packages the server needs (checked to load before the run). */
  packages: string[];
  /** Files that must exist (wsmount adapters). */
  files?: string[];
  /** Shown under the results. */
  note?: string;
  /** Only these scenarios (a control measured where it explains a result); all when absent. */
  scenarios?: readonly ScenarioId[];
}

/** True when `target` is measured in the scenario `id`. */
export function runsIn(target: Target, id: ScenarioId): boolean {
  return target.scenarios === undefined || target.scenarios.includes(id);
}

const WSMOUNT_NOTE =
  "the built package (`dist/`, built at the start of the run, imported as `wsmount/<adapter>`); default options (heartbeat on); broadcast with rooms (`conn.join`, `ws.to(room).send`); " +
  "in the compressed scenario `compression: { threshold: 128, serverNoContextTakeover: true }`, which wsmount's documentation advises for broadcasts " +
  "(compress once for all recipients), where the ws-based peers keep ws's default context takeover.";

export const TARGETS: readonly Target[] = [
  {
    id: "wsmount-express",
    label: "wsmount + Express",
    group: "wsmount",
    server: "bench/servers/wsmount-express.ts",
    protocol: "ws",
    packages: ["express"],
    files: ["adapters/express.ts"],
    note: WSMOUNT_NOTE,
  },
  {
    id: "wsmount-fastify",
    label: "wsmount + Fastify",
    group: "wsmount",
    server: "bench/servers/wsmount-fastify.ts",
    protocol: "ws",
    packages: ["fastify"],
    files: ["adapters/fastify.ts"],
    note: WSMOUNT_NOTE,
  },
  {
    id: "wsmount-koa",
    label: "wsmount + Koa",
    group: "wsmount",
    server: "bench/servers/wsmount-koa.ts",
    protocol: "ws",
    packages: ["koa", "@koa/router"],
    files: ["adapters/koa.ts"],
    note: WSMOUNT_NOTE,
  },
  {
    id: "wsmount-node",
    label: "wsmount + node:http",
    group: "wsmount",
    server: "bench/servers/wsmount-node.ts",
    protocol: "ws",
    packages: [],
    files: ["adapters/node.ts"],
    note: WSMOUNT_NOTE,
  },
  { id: "ws", label: "raw ws", group: "baseline", server: "bench/servers/ws.ts", protocol: "ws", packages: ["ws"] },
  {
    id: "ws-express-loaded",
    label: "raw ws, Express loaded",
    group: "baseline",
    server: "bench/servers/ws-express-loaded.ts",
    protocol: "ws",
    packages: ["ws", "express"],
    scenarios: ["echo-binary", "idle-memory"],
    note: "Control for the 64 KiB echo and the idle memory: the raw ws server, unchanged, in a process that has also loaded Express (an app made, never used). It shows what a framework's mere presence in the process can do to those scenarios, apart from any WebSocket library.",
  },
  {
    id: "express-ws",
    label: "express-ws",
    group: "peer",
    server: "bench/servers/express-ws.ts",
    protocol: "ws",
    packages: ["express", "express-ws"],
    note: "express-ws 5 bundles ws 7 and upgrades before Express middleware runs: its auth can only close an open socket.",
  },
  {
    id: "fastify-websocket",
    label: "@fastify/websocket",
    group: "peer",
    server: "bench/servers/fastify-websocket.mjs",
    protocol: "ws",
    packages: ["fastify", "@fastify/websocket"],
  },
  {
    id: "koa-easy-ws",
    label: "koa-easy-ws",
    group: "peer",
    server: "bench/servers/koa-easy-ws.ts",
    protocol: "ws",
    packages: ["koa", "@koa/router", "koa-easy-ws"],
  },
  {
    id: "socket.io",
    label: "socket.io",
    group: "peer",
    server: "bench/servers/socket.io.ts",
    protocol: "socket.io",
    packages: ["socket.io", "socket.io-client"],
    note: "socket.io speaks its own protocol: messages are socket.io events (a few bytes of framing more), auth is namespace middleware after the upgrade.",
  },
  {
    id: "uws",
    label: "uWebSockets.js",
    group: "native",
    server: "bench/servers/uws.ts",
    protocol: "ws",
    packages: ["@trufflesuite/uws-js-unofficial"],
    note: "Native (C++) reference from @trufflesuite/uws-js-unofficial, which ships prebuilt binaries.",
  },
];

/** Why a target cannot run here, or null when it can. */
export function unavailability(target: Target, root: string): string | null {
  for (const file of [target.server, ...(target.files ?? [])]) {
    if (!existsSync(join(root, file))) return `${file} not present on this branch`;
  }
  for (const name of target.packages) {
    const check = spawnSync(process.execPath, ["--input-type=module", "-e", `await import(${JSON.stringify(name)})`], {
      cwd: root,
      encoding: "utf8",
      timeout: 20_000,
    });
    if (check.status !== 0) {
      const reason = (check.stderr || check.error?.message || "").trim().split("\n").find((line) => line.includes("Error")) ?? "failed to load";
      return `${name} does not load on Node ${process.versions.node}: ${reason}`;
    }
  }
  return null;
}
