/** The load side of each scenario. Each resolves with its numbers; none runs longer than its spec says. */
import { randomBytes } from "node:crypto";
import { createInterface, type Interface } from "node:readline";
import { Client, encodeMessage, type ProtocolName } from "./client.js";
import { connectAll } from "./connect.js";
import { LatencyHistogram } from "./histogram.js";
import type { BroadcastParams, EchoParams, HandshakeParams, IdleParams, LoadResult, LoadSpec } from "./spec.js";
import { loopbackSources, repeatFrame } from "./wire.js";

const CONNECT_TIMEOUT_MS = 30_000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

/**
 * Warm up, then measure one window. `onStart` resets counters, `read` returns the running count.
 * Prints MEASURE_START / MEASURE_END so the runner can sample CPU over exactly this window.
 */
async function window(spec: LoadSpec, onStart: () => void, read: () => number): Promise<{ count: number; ms: number }> {
  await sleep(spec.warmupMs);
  onStart();
  const before = read();
  const started = performance.now();
  say("MEASURE_START");
  await sleep(spec.durationMs);
  const count = read() - before;
  const ms = performance.now() - started;
  say("MEASURE_END");
  return { count, ms };
}

/** Text payload of `bytes` ASCII characters; compressible JSON-like text when `compressible`. */
export function textPayload(bytes: number, compressible: boolean): string {
  const unit = compressible
    ? '{"type":"quote","symbol":"ACME","bid":101.25,"ask":101.27,"venue":"XNAS"},'
    : "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";
  return unit.repeat(Math.ceil(bytes / unit.length)).slice(0, bytes);
}

function closeAll(clients: Client[]): void {
  for (const client of clients) client.destroy();
}

/** Echo: `connections` x `inFlight` messages in flight; every echo is answered with a new message. */
export async function echo(spec: LoadSpec): Promise<LoadResult> {
  const params = spec.params as EchoParams;
  const payload = params.binary ? randomBytes(params.payloadBytes) : textPayload(params.payloadBytes, false);
  const message = encodeMessage(spec.protocol, "echo", payload);
  const batches = Array.from({ length: params.inFlight + 1 }, (_, count) => repeatFrame(message, count));
  const opened = await connectAll({ protocol: spec.protocol, port: spec.port, route: "/echo" }, params.connections, 64, 4, CONNECT_TIMEOUT_MS);
  if (opened.clients.length < params.connections) {
    closeAll(opened.clients);
    return { scenario: spec.scenario, error: `only ${opened.clients.length}/${params.connections} connected`, refusals: opened.refusals };
  }
  const histogram = new LatencyHistogram();
  let received = 0;
  let lost = 0;
  const inFlight = params.inFlight;
  const started = performance.now();
  for (const client of opened.clients) {
    // Echo preserves order per connection, so a ring of send times pairs each echo with its message.
    const sentAt = new Float64Array(inFlight).fill(started);
    let head = 0;
    let tail = 0;
    let owed = 0;
    client.onMessage = () => {
      histogram.record(performance.now() - sentAt[head]!);
      head = head + 1 === inFlight ? 0 : head + 1;
      received++;
      owed++;
    };
    client.wire.onChunkEnd = () => {
      if (owed === 0) return;
      const now = performance.now();
      for (let i = 0; i < owed; i++) {
        sentAt[tail] = now;
        tail = tail + 1 === inFlight ? 0 : tail + 1;
      }
      client.write(batches[owed]!);
      owed = 0;
    };
    client.onClosed = () => {
      lost++;
    };
    client.write(batches[inFlight]!);
  }
  const measured = await window(spec, () => histogram.reset(), () => received);
  const latency = {
    p50: histogram.quantile(0.5),
    p90: histogram.quantile(0.9),
    p99: histogram.quantile(0.99),
    max: histogram.max,
    samples: histogram.count,
  };
  const lostDuringRun = lost;
  closeAll(opened.clients);
  const perSecond = (measured.count * 1000) / measured.ms;
  const result: LoadResult = {
    scenario: spec.scenario,
    windowMs: measured.ms,
    messages: measured.count,
    rate: params.binary ? (perSecond * params.payloadBytes) / 1e6 : perSecond,
    bytesPerSecond: perSecond * params.payloadBytes,
    latencyMs: latency,
    connections: params.connections,
    failedConnections: lostDuringRun,
  };
  if (lostDuringRun > 0) result.error = `${lostDuringRun} connections closed during the run`;
  return result;
}

/**
 * Broadcast (chat room): one driver connection sends messages, the server sends each to all
 * `connections`. Flow control: a new message is sent only while fewer than `window` broadcasts'
 * worth of deliveries are outstanding, so the rate measured is deliveries, not queueing.
 */
export async function broadcast(spec: LoadSpec): Promise<LoadResult> {
  const params = spec.params as BroadcastParams;
  const message = encodeMessage(spec.protocol, "bcast", textPayload(params.payloadBytes, params.deflate));
  const batches = Array.from({ length: params.window + 1 }, (_, count) => repeatFrame(message, count));
  const options = { protocol: spec.protocol, port: spec.port, route: "/bcast" as const, deflate: params.deflate };
  const opened = await connectAll(options, params.connections, 64, 4, CONNECT_TIMEOUT_MS);
  if (opened.clients.length < params.connections) {
    closeAll(opened.clients);
    return { scenario: spec.scenario, error: `only ${opened.clients.length}/${params.connections} connected`, refusals: opened.refusals };
  }
  const recipients = params.connections;
  const limit = params.window * recipients;
  const driver = opened.clients[0]!;
  let issued = 0;
  let delivered = 0;
  let compressed = 0;
  let lost = 0;
  let lastProgress = performance.now();
  const issue = (): void => {
    const room = Math.floor((limit - (issued * recipients - delivered)) / recipients);
    if (room <= 0) return;
    issued += room;
    driver.write(batches[room]!);
  };
  for (const client of opened.clients) {
    client.onMessage = (_isBinary, rsv1) => {
      delivered++;
      if (rsv1) compressed++;
    };
    client.wire.onChunkEnd = issue;
    client.onClosed = () => {
      lost++;
    };
  }
  const stall = setInterval(() => {
    if (performance.now() - lastProgress > 5000) driver.destroy();
  }, 1000);
  let seen = 0;
  const progress = setInterval(() => {
    if (delivered !== seen) {
      seen = delivered;
      lastProgress = performance.now();
    }
  }, 200);
  issue();
  let compressedBefore = 0;
  const measured = await window(
    spec,
    () => {
      compressedBefore = compressed;
    },
    () => delivered,
  );
  const compressedInWindow = compressed - compressedBefore;
  clearInterval(stall);
  clearInterval(progress);
  const lostDuringRun = lost;
  closeAll(opened.clients);
  const perSecond = (measured.count * 1000) / measured.ms;
  const result: LoadResult = {
    scenario: spec.scenario,
    windowMs: measured.ms,
    messages: measured.count,
    rate: perSecond,
    broadcastsPerSecond: perSecond / recipients,
    bytesPerSecond: perSecond * params.payloadBytes,
    compressedShare: measured.count === 0 ? 0 : compressedInWindow / measured.count,
    connections: recipients,
    failedConnections: lostDuringRun,
  };
  if (lostDuringRun > 0) result.error = `${lostDuringRun} connections closed during the run (stalled or dropped)`;
  else if (measured.count === 0) result.error = "no deliveries in the window";
  return result;
}

/** Handshakes: `concurrency` loops of connect (with the auth token), accepted, close. */
export async function handshake(spec: LoadSpec): Promise<LoadResult> {
  const params = spec.params as HandshakeParams;
  const addresses = loopbackSources(params.sources);
  let next = 0;
  let accepted = 0;
  let failed = 0;
  const refusals: string[] = [];
  let running = true;
  const loop = (): void => {
    if (!running) return;
    const client = new Client({
      protocol: spec.protocol,
      port: spec.port,
      route: "/auth",
      authenticate: true,
      localAddress: addresses[next++ % addresses.length]!,
    });
    client.wire.socket.setTimeout(5000, () => client.destroy());
    client.onReady = () => {
      accepted++;
      client.close();
    };
    client.onClosed = (error) => {
      if (!client.ready) {
        failed++;
        if (refusals.length < 5) refusals.push(client.wire.refusal || error?.message || "closed before accepted");
      }
      loop();
    };
  };
  for (let i = 0; i < params.concurrency; i++) loop();
  let failedBefore = 0;
  const measured = await window(
    spec,
    () => {
      failedBefore = failed;
    },
    () => accepted,
  );
  running = false;
  const failedInWindow = failed - failedBefore;
  const result: LoadResult = {
    scenario: spec.scenario,
    windowMs: measured.ms,
    messages: measured.count,
    rate: (measured.count * 1000) / measured.ms,
    failedConnections: failedInWindow,
    refusals,
  };
  if (measured.count === 0) result.error = `no handshake accepted (${refusals.join("; ")})`;
  else if (failedInWindow > measured.count / 100) result.error = `${failedInWindow} handshakes failed`;
  return result;
}

/**
 * Idle connections, in two halves so the runner can measure the marginal cost of the second half
 * apart from one-off allocations: open half, `HOLDING <n>`, wait for `more`, open the rest,
 * `HOLDING <n>`, wait for `release` (the runner measures the server meanwhile).
 */
export async function idle(spec: LoadSpec): Promise<LoadResult> {
  const params = spec.params as IdleParams;
  const half = Math.floor(params.connections / 2);
  const connectMs = Math.max(CONNECT_TIMEOUT_MS, spec.timeoutMs - params.maxHoldMs);
  const options = { protocol: spec.protocol, port: spec.port, route: "/echo" as const };
  let lost = 0;
  const onClosed = (): void => {
    lost++;
  };
  const first = await connectAll(options, half, params.concurrency, params.sources, connectMs);
  for (const client of first.clients) client.onClosed = onClosed;
  say(`HOLDING ${first.clients.length}`);
  await waitForLine("more", params.maxHoldMs);
  const second = await connectAll(options, params.connections - half, params.concurrency, params.sources, connectMs);
  for (const client of second.clients) client.onClosed = onClosed;
  const clients = [...first.clients, ...second.clients];
  say(`HOLDING ${clients.length}`);
  await waitForLine("release", params.maxHoldMs);
  const lostDuringHold = lost;
  closeAll(clients);
  const failed = first.failed + second.failed;
  const result: LoadResult = {
    scenario: spec.scenario,
    connections: clients.length - lostDuringHold,
    failedConnections: failed + lostDuringHold,
    connectMs: first.elapsedMs + second.elapsedMs,
    refusals: [...first.refusals, ...second.refusals],
  };
  if (failed > 0 || lostDuringHold > 0) result.error = `${failed} failed to connect, ${lostDuringHold} closed while idle`;
  return result;
}

let stdinLines: Interface | undefined;

/** Resolves on the runner's line `word` on stdin, when stdin closes, or after `maxMs`. */
function waitForLine(word: string, maxMs: number): Promise<void> {
  return new Promise((resolve) => {
    const lines = (stdinLines ??= createInterface({ input: process.stdin }));
    const onLine = (line: string): void => {
      if (line.trim() === word) done();
    };
    const done = (): void => {
      clearTimeout(timer);
      lines.off("line", onLine);
      lines.off("close", done);
      resolve();
    };
    const timer = setTimeout(done, maxMs);
    lines.on("line", onLine);
    lines.on("close", done);
  });
}

/** Dispatches a spec to its scenario. */
export function runScenario(spec: LoadSpec): Promise<LoadResult> {
  switch (spec.scenario) {
    case "echo":
    case "echo-binary":
      return echo(spec);
    case "broadcast":
    case "broadcast-deflate":
      return broadcast(spec);
    case "handshake":
      return handshake(spec);
    case "idle-memory":
      return idle(spec);
  }
}

export type { ProtocolName };
