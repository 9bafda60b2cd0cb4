/**
 * Correctness probe: before anything is measured, the target is exercised with the real client of
 * its protocol (`ws`, or socket.io-client with `transports: ["websocket"]`), so a target that
 * breaks the contract (wrong echo, no broadcast, auth not enforced) gets no numbers.
 */
import { randomBytes } from "node:crypto";
import { io, type Socket } from "socket.io-client";
import WebSocket from "ws";
import { AUTH_HEADER, AUTH_TOKEN, type Route } from "../servers/contract.js";
import type { ProtocolName } from "./client.js";
import { textPayload } from "./scenarios.js";
import type { ProbeResult, ScenarioId } from "./spec.js";

const PROBE_TIMEOUT_MS = 5000;

type Payload = string | Buffer;

function same(a: Payload, b: Payload): boolean {
  if (typeof a === "string" || typeof b === "string") return a === b;
  return a.equals(b);
}

function withTimeout<T>(what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A connected probe client of either protocol, reduced to what the probes need. */
interface ProbeClient {
  send(event: string, data: Payload): void;
  next(event: string): Promise<Payload>;
  close(): void;
  describe(): string;
}

function openWs(port: number, route: Route, headers: Record<string, string> = {}): Promise<ProbeClient> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${route}`, { headers, perMessageDeflate: true });
    const queue: Payload[] = [];
    const waiters: Array<(data: Payload) => void> = [];
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      const payload = isBinary ? data : data.toString();
      const waiter = waiters.shift();
      if (waiter) waiter(payload);
      else queue.push(payload);
    });
    ws.once("open", () =>
      resolve({
        send: (_event, data) => ws.send(data),
        next: () => {
          const queued = queue.shift();
          return queued !== undefined ? Promise.resolve(queued) : new Promise((res) => waiters.push(res));
        },
        close: () => ws.terminate(),
        describe: () => `extensions "${ws.extensions}"`,
      }),
    );
    ws.once("unexpected-response", (_request, response) => {
      reject(new Error(`HTTP ${response.statusCode}`));
      ws.terminate();
    });
    ws.once("error", reject);
  });
}

function openSocketIo(port: number, route: Route, auth?: Record<string, string>): Promise<ProbeClient> {
  const namespace = route === "/auth" ? "/auth" : "/";
  return new Promise((resolve, reject) => {
    const socket: Socket = io(`http://127.0.0.1:${port}${namespace}`, {
      transports: ["websocket"],
      reconnection: false,
      forceNew: true,
      ...(auth ? { auth } : {}),
    });
    const queues = new Map<string, Payload[]>();
    const waiters = new Map<string, Array<(data: Payload) => void>>();
    socket.onAny((event: string, data: Payload) => {
      const waiting = waiters.get(event)?.shift();
      if (waiting) waiting(data);
      else queues.set(event, [...(queues.get(event) ?? []), data]);
    });
    socket.once("connect", () =>
      resolve({
        send: (event, data) => socket.emit(event, data),
        next: (event) => {
          const queued = queues.get(event)?.shift();
          if (queued !== undefined) return Promise.resolve(queued);
          return new Promise((res) => waiters.set(event, [...(waiters.get(event) ?? []), res]));
        },
        close: () => socket.disconnect(),
        describe: () => "socket.io-client (websocket transport)",
      }),
    );
    socket.once("connect_error", (error: Error) => {
      socket.disconnect();
      reject(error);
    });
  });
}

function open(protocol: ProtocolName, port: number, route: Route, authenticated = false): Promise<ProbeClient> {
  if (protocol === "ws") return openWs(port, route, authenticated ? { authorization: AUTH_HEADER } : {});
  return openSocketIo(port, route, authenticated ? { token: AUTH_TOKEN } : undefined);
}

async function roundTrip(protocol: ProtocolName, port: number, payload: Payload): Promise<string> {
  const client = await open(protocol, port, "/echo");
  try {
    client.send("echo", payload);
    const echoed = await client.next("echo");
    if (!same(echoed, payload)) throw new Error("echo returned different data");
    return "echo ok";
  } finally {
    client.close();
  }
}

async function room(protocol: ProtocolName, port: number, payload: string): Promise<string> {
  const a = await open(protocol, port, "/bcast");
  const b = await open(protocol, port, "/bcast");
  try {
    a.send("bcast", payload);
    const [toA, toB] = await Promise.all([a.next("bcast"), b.next("bcast")]);
    if (!same(toA, payload) || !same(toB, payload)) throw new Error("broadcast delivered different data");
    return `broadcast ok (${a.describe()})`;
  } finally {
    a.close();
    b.close();
  }
}

/** socket.io refuses in its namespace middleware, after the WebSocket upgrade. */
async function socketIoRefusal(port: number): Promise<string> {
  let client: ProbeClient;
  try {
    client = await open("socket.io", port, "/auth");
  } catch (error) {
    return `refused at namespace connect, after the upgrade: "${(error as Error).message}"`;
  }
  client.close();
  throw new Error("unauthenticated handshake was accepted");
}

async function wsRefusal(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/auth`);
    ws.once("unexpected-response", (_request, response) => {
      resolve(`refused before the upgrade: HTTP ${response.statusCode}`);
      ws.terminate();
    });
    ws.once("open", () => {
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error("unauthenticated handshake was accepted and kept open"));
      }, 1000);
      ws.once("close", (code) => {
        clearTimeout(timer);
        resolve(`refused after the upgrade: 101 then close ${code}`);
      });
    });
    ws.once("error", (error) => reject(error));
  });
}

async function authProbe(protocol: ProtocolName, port: number): Promise<string> {
  const refused = protocol === "ws" ? await wsRefusal(port) : await socketIoRefusal(port);
  const client = await open(protocol, port, "/auth", true);
  client.close();
  return `${refused}; with token: accepted`;
}

/** Runs the probe for a scenario. Never throws; never runs longer than a few seconds. */
export async function probe(scenario: ScenarioId, protocol: ProtocolName, port: number): Promise<ProbeResult> {
  try {
    let detail: string;
    switch (scenario) {
      case "echo":
      case "idle-memory":
        detail = await withTimeout("echo", roundTrip(protocol, port, "probe-\u00e9\u2713"));
        break;
      case "echo-binary":
        detail = await withTimeout("binary echo", roundTrip(protocol, port, randomBytes(64 * 1024)));
        break;
      case "broadcast":
        detail = await withTimeout("broadcast", room(protocol, port, textPayload(64, false)));
        break;
      case "broadcast-deflate":
        detail = await withTimeout("broadcast", room(protocol, port, textPayload(256, true)));
        break;
      case "handshake":
        detail = await withTimeout("auth", authProbe(protocol, port));
        break;
    }
    return { ok: true, detail };
  } catch (error) {
    return { ok: false, detail: (error as Error).message };
  }
}
