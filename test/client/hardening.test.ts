/**
 * Every callback of the client goes through one guard: event handlers, acknowledgement handlers, state,
 * connect, disconnect and message listeners, and `onError` itself. What they throw or reject reaches
 * `onError` (or, for the answering handler of a call, the server), never the process; and the calls a
 * client keeps waiting are bounded.
 */
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { AckError, AckErrorCode, connect, type ClientOptions, type WsmountClient } from "../../client/index.js";
import { resolveClientOptions } from "../../client/options.js";
import { encodeEvent } from "../../core/protocol/index.js";
import { startTestServer, type TestServer, waitUntil } from "./test-server.js";
import { watchProcessFaults } from "../hardening/process-faults.js";

const faults = watchProcessFaults();
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(clientOptions: ClientOptions = {}): Promise<{ server: TestServer; client: WsmountClient; errors: unknown[] }> {
  const server = await startTestServer();
  cleanups.push(() => server.stop());
  const client = connect(server.url, { WebSocket, reconnect: false, ...clientOptions });
  cleanups.push(() => client.close());
  const errors: unknown[] = [];
  client.onError((error) => void errors.push(error));
  return { server, client, errors };
}

function opened(client: WsmountClient): Promise<void> {
  return new Promise((resolve) => {
    if (client.state === "open") resolve();
    const off = client.onConnect(() => {
      off();
      resolve();
    });
  });
}

const messages = (errors: unknown[]) => errors.map((error) => (error as Error).message).sort();

describe("client: callbacks that throw or reject", () => {
  it("gives onError what event handlers throw and reject, sync and async", async () => {
    const { server, client, errors } = await setup();
    client.on("sync", () => {
      throw new Error("sync handler");
    });
    client.on("async", async () => {
      throw new Error("async handler");
    });
    await opened(client);
    server.sendAll(encodeEvent("sync"));
    server.sendAll(encodeEvent("async"));
    await waitUntil(() => errors.length === 2, "both failures");
    expect(messages(errors)).toEqual(["async handler", "sync handler"]);
    await faults.none();
  });

  it("answers a call with the first handler, sends x for its hostile thenable, and gives onError the other handlers' failures", async () => {
    const { server, client, errors } = await setup();
    const answers: unknown[] = [];
    server.onOther = (message) => void answers.push(message);
    client.on("multi", (n) => (n as number) + 1);
    client.on("multi", async () => {
      throw new Error("listener async");
    });
    client.on("hostile", () => ({
      then() {
        throw new Error("then throws");
      },
    }));
    await opened(client);
    server.sendAll(encodeEvent("multi", 1, 1));
    server.sendAll(encodeEvent("hostile", undefined, 2));
    await waitUntil(() => answers.length === 2 && errors.length === 1, "both answers and the listener's failure");
    const byId = new Map(answers.map((a) => [(a as { ackId: number }).ackId, a]));
    expect(byId.get(1)).toEqual({ kind: "ack", ackId: 1, result: 2 });
    expect(byId.get(2)).toMatchObject({ kind: "ackError", ackId: 2, error: { message: "then throws" } });
    expect(messages(errors)).toEqual(["listener async"]);
    await faults.none();
  });

  it("gives onError what connect, state, message and disconnect listeners throw and reject", async () => {
    const { server, client, errors } = await setup();
    client.onConnect(() => {
      throw new Error("connect sync");
    });
    client.onConnect(async () => {
      throw new Error("connect async");
    });
    client.onStateChange((state) => {
      if (state === "open") throw new Error("state sync");
    });
    client.onMessage(async () => {
      throw new Error("message async");
    });
    client.onDisconnect(() => {
      throw new Error("disconnect sync");
    });
    await opened(client);
    server.sendAll("raw text");
    await waitUntil(() => errors.length === 4, "four failures");
    for (const socket of server.sockets) socket.close(1000, "bye");
    await waitUntil(() => errors.length === 5, "the disconnect listener's failure");
    expect(messages(errors)).toEqual(["connect async", "connect sync", "disconnect sync", "message async", "state sync"]);
    await faults.none();
  });

  it("lets nothing escape from error listeners that throw or reject, and still calls the others", async () => {
    const { server, client, errors } = await setup();
    client.onError(() => {
      throw new Error("onError sync");
    });
    client.onError(async () => {
      throw new Error("onError async");
    });
    client.on("boom", () => {
      throw new Error("handler");
    });
    await opened(client);
    server.sendAll(encodeEvent("boom"));
    server.sendAll(encodeEvent("boom"));
    await waitUntil(() => errors.length === 2, "both failures at the first error listener");
    expect(messages(errors)).toEqual(["handler", "handler"]);
    await faults.none();
  });
});

describe("client: calls waiting for answers", () => {
  it("refuses emitWithAck past maxPendingAcks with ERR_WSMOUNT_TOO_MANY_PENDING_ACKS and sends nothing", async () => {
    const { server, client } = await setup({ maxPendingAcks: 2 });
    server.on("never", () => new Promise(() => {}));
    server.on("quick", () => "done");
    await opened(client);
    const waiting = [client.emitWithAck("never", 1, { timeout: 0 }), client.emitWithAck("never", 2, { timeout: 0 })];
    const refused = client.emitWithAck("never", 3, { timeout: 0 });
    await expect(refused).rejects.toBeInstanceOf(AckError);
    await expect(refused).rejects.toMatchObject({ code: AckErrorCode.tooManyPending });
    await waitUntil(() => server.events.length === 2, "the two calls");
    client.close();
    const outcomes = await Promise.allSettled(waiting);
    expect(outcomes.map((o) => o.status === "rejected" && (o.reason as AckError).code)).toEqual([AckErrorCode.closed, AckErrorCode.closed]);
    expect(server.events.map((e) => e.data)).toEqual([1, 2]);
    await faults.none();
  });

  it("frees a slot when an answer comes, and bounds at 1000 by default", async () => {
    expect(resolveClientOptions({ WebSocket }).maxPendingAcks).toBe(1000);
    expect(() => resolveClientOptions({ WebSocket, maxPendingAcks: 0 })).toThrow(/options\.maxPendingAcks/);
    expect(() => resolveClientOptions({ WebSocket, maxPendingAcks: 1.5 })).toThrow(TypeError);
    expect(resolveClientOptions({ WebSocket, maxPendingAcks: Infinity }).maxPendingAcks).toBe(Infinity);
    const { server, client } = await setup({ maxPendingAcks: 1 });
    server.on("quick", (n) => n);
    await opened(client);
    await expect(client.emitWithAck("quick", 1)).resolves.toBe(1);
    await expect(client.emitWithAck("quick", 2)).resolves.toBe(2);
  });
});
