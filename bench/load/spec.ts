/** What the runner asks of the load generator (passed as JSON in argv) and what it answers. */
import type { ProtocolName } from "./client.js";

/** Scenario identifiers, shared by runner, load generator and report. */
export type ScenarioId = "echo" | "echo-binary" | "broadcast" | "broadcast-deflate" | "handshake" | "idle-memory";

export interface EchoParams {
  connections: number;
  /** Messages in flight per connection. */
  inFlight: number;
  payloadBytes: number;
  binary: boolean;
}

export interface BroadcastParams {
  connections: number;
  payloadBytes: number;
  /** Compressible text payload and permessage-deflate offered. */
  deflate: boolean;
  /** Broadcasts in flight at most (flow control: deliveries outstanding <= window x connections). */
  window: number;
}

export interface HandshakeParams {
  /** Concurrent connect/close loops. */
  concurrency: number;
  /** Loopback source addresses to spread ephemeral ports over. */
  sources: number;
}

export interface IdleParams {
  connections: number;
  /** Handshakes in progress at once while connecting. */
  concurrency: number;
  sources: number;
  /** Longest wait for the runner's `release` before giving up. */
  maxHoldMs: number;
}

export type ScenarioParams = EchoParams | BroadcastParams | HandshakeParams | IdleParams;

export interface LoadSpec {
  scenario: ScenarioId;
  protocol: ProtocolName;
  port: number;
  warmupMs: number;
  durationMs: number;
  params: ScenarioParams;
  /** Hard limit for the whole load process. */
  timeoutMs: number;
}

/** Outcome of the correctness probe run with the library's own client before measuring. */
export interface ProbeResult {
  ok: boolean;
  detail: string;
}

/** Numbers a scenario reports; which fields are set depends on the scenario. */
export interface LoadResult {
  scenario: ScenarioId;
  probe?: ProbeResult;
  error?: string;
  windowMs?: number;
  /** Primary metric per scenario: messages/s, MB/s, deliveries/s, handshakes/s. */
  rate?: number;
  messages?: number;
  bytesPerSecond?: number;
  latencyMs?: { p50: number; p90: number; p99: number; max: number; samples: number };
  /** Broadcast: share of deliveries that arrived compressed (RSV1). */
  compressedShare?: number;
  broadcastsPerSecond?: number;
  connections?: number;
  failedConnections?: number;
  refusals?: string[];
  connectMs?: number;
}

/** Parses the spec argument. */
export function parseSpec(json: string | undefined): LoadSpec {
  if (!json) throw new TypeError("load generator: missing spec argument");
  return JSON.parse(json) as LoadSpec;
}
