/** Self time of a V8 CPU profile per operation, grouped into the parts of a WebSocket server. */
import { readFileSync } from "node:fs";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface Breakdown {
  operations: number;
  /** Server CPU per operation (idle left out), µs. */
  busyPerOp: number;
  /** µs per operation by part, largest first. */
  parts: Map<string, number>;
  /** µs per operation by function, largest first. */
  functions: Array<[string, number]>;
}

/** The part of the server a function belongs to, from its script. */
export function partOf(frame: CallFrame): string | null {
  const url = frame.url;
  if (frame.functionName === "(idle)") return null;
  if (frame.functionName === "(garbage collector)") return "garbage collection";
  if (frame.functionName === "(program)") return "V8 and Node native code (program)";
  if (url === "") return "kernel calls and natives (write, writev, close, accept...)";
  if (url.includes("/node_modules/ws/")) return "ws";
  if (/\/node_modules\/(express|router|body-parser|finalhandler|send|serve-static|parseurl|path-to-regexp|express-ws)\//.test(url)) return "Express (routing, middleware)";
  if (/\/node_modules\/(koa|@koa|koa-compose|koa-easy-ws|delegates|only|statuses|http-errors)\//.test(url)) return "Koa (middleware, router)";
  if (/\/node_modules\/(fastify|@fastify|find-my-way|avvio|light-my-request|pino|fast-json-stringify)\//.test(url)) return "Fastify (routing, hooks)";
  if (/\/dist\/(core|adapters)\//.test(url) || /\/(core|adapters)\/.+\.ts$/.test(url)) return "wsmount";
  if (url.includes("/bench/servers/")) return "the benchmark's server code (handlers, middleware)";
  if (url === "node:internal/errors") return "Node internal errors (stack traces)";
  if (/^node:(net|internal\/stream_base_commons|internal\/net|dgram)/.test(url)) return "Node TCP sockets";
  if (/^node:(internal\/streams|stream|events|internal\/event_target)/.test(url)) return "Node streams and events";
  if (/^node:(_http|http|internal\/http)/.test(url)) return "Node HTTP server and parser";
  if (/^node:(internal\/crypto|crypto)/.test(url)) return "Node crypto (accept key, ids)";
  if (/^node:(internal\/timers|timers)/.test(url)) return "Node timers";
  if (/^node:internal\/process\/task_queues/.test(url)) return "Node ticks and microtasks";
  if (url.startsWith("node:")) return "other Node code";
  return "other JavaScript";
}

export function summarize(path: string, operations: number): Breakdown {
  const profile = JSON.parse(readFileSync(path, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  // The profiler's own start (an inspector call in the server) is not the server's work.
  const profilerOwn = new Set<number>();
  const mark = (node: ProfileNode): void => {
    profilerOwn.add(node.id);
    for (const child of node.children ?? []) mark(byId.get(child)!);
  };
  for (const node of profile.nodes) if (node.callFrame.url === "node:inspector") mark(node);
  const parts = new Map<string, number>();
  const functions = new Map<string, number>();
  let busy = 0;
  const ops = Math.max(operations, 1);
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    if (profilerOwn.has(id)) continue;
    const frame = byId.get(id)!.callFrame;
    const part = partOf(frame);
    if (part === null) continue;
    const us = (profile.timeDeltas[i] ?? 0) / ops;
    busy += us;
    parts.set(part, (parts.get(part) ?? 0) + us);
    const name = `${frame.functionName || "(anonymous)"} ${frame.url.replace(/^.*node_modules\//, "").replace(/^file:\/\/\/.*?\/(dist\/core|dist\/adapters|core|adapters|bench)\//, "$1/")}`;
    functions.set(name, (functions.get(name) ?? 0) + us);
  }
  return {
    operations,
    busyPerOp: busy,
    parts: new Map([...parts].sort((a, b) => b[1] - a[1])),
    functions: [...functions].sort((a, b) => b[1] - a[1]),
  };
}
