/** The targets the issue sets for wsmount, evaluated on the run's medians. */
import type { ScenarioId } from "../load/spec.js";

export type CheckKind = "echo" | "handshake" | "memory" | "broadcast" | "broadcast-deflate";

export interface Check {
  kind: CheckKind;
  scenario: ScenarioId;
  subject: string;
  reference: string;
  /** subject / reference must be >= factor (higher is better) or <= factor (memory). */
  op: ">=" | "<=";
  factor: number;
}

const ADAPTERS = ["wsmount-express", "wsmount-fastify", "wsmount-koa", "wsmount-node"];

export const CHECKS: readonly Check[] = [
  ...ADAPTERS.flatMap((subject): Check[] => [
    { kind: "echo", scenario: "echo", subject, reference: "ws", op: ">=", factor: 0.95 },
    { kind: "echo", scenario: "echo-binary", subject, reference: "ws", op: ">=", factor: 0.95 },
  ]),
  // Where a framework in the process is what costs in the 64 KiB echo: at least the control and the peer.
  { kind: "echo", scenario: "echo-binary", subject: "wsmount-express", reference: "ws-express-loaded", op: ">=", factor: 1.0 },
  { kind: "echo", scenario: "echo-binary", subject: "wsmount-express", reference: "express-ws", op: ">=", factor: 1.0 },
  { kind: "echo", scenario: "echo-binary", subject: "wsmount-fastify", reference: "fastify-websocket", op: ">=", factor: 1.0 },
  { kind: "echo", scenario: "echo-binary", subject: "wsmount-koa", reference: "koa-easy-ws", op: ">=", factor: 1.0 },
  { kind: "handshake", scenario: "handshake", subject: "wsmount-express", reference: "express-ws", op: ">=", factor: 1.3 },
  { kind: "handshake", scenario: "handshake", subject: "wsmount-koa", reference: "koa-easy-ws", op: ">=", factor: 1.3 },
  { kind: "handshake", scenario: "handshake", subject: "wsmount-fastify", reference: "fastify-websocket", op: ">=", factor: 1.2 },
  { kind: "handshake", scenario: "handshake", subject: "wsmount-node", reference: "ws", op: ">=", factor: 1.2 },
  ...["wsmount-fastify", "wsmount-koa", "wsmount-node"].map((subject): Check => ({ kind: "memory", scenario: "idle-memory", subject, reference: "ws", op: "<=", factor: 1.0 })),
  { kind: "memory", scenario: "idle-memory", subject: "wsmount-express", reference: "express-ws", op: "<=", factor: 1.0 },
  { kind: "memory", scenario: "idle-memory", subject: "wsmount-express", reference: "ws-express-loaded", op: "<=", factor: 1.0 },
  ...ADAPTERS.map((subject): Check => ({ kind: "broadcast", scenario: "broadcast", subject, reference: "ws", op: ">=", factor: 1.5 })),
  ...ADAPTERS.map(
    (subject): Check => ({ kind: "broadcast-deflate", scenario: "broadcast-deflate", subject, reference: "ws", op: ">=", factor: 5 }),
  ),
];

/** How far a ratio is from its check: positive = met with margin, negative = missed by that share. */
export function margin(check: Check, ratio: number): number {
  return check.op === ">=" ? ratio / check.factor - 1 : check.factor / ratio - 1;
}
