/**
 * The wsmount:* diagnostics channels and the once-per-episode fault log, through every mount.
 */
import * as diagnosticsChannel from "node:diagnostics_channel";
import { afterEach, describe, expect, test } from "vitest";
import { DiagnosticsChannel } from "../../core/index.js";
import { closed, nextMessage, open, refused, until } from "../helpers/client.js";
import { mounts, type Mounted } from "../helpers/mounts.js";

type Message = Record<string, unknown>;

function record(name: string): { messages: Message[]; stop(): void } {
  const messages: Message[] = [];
  const listener = (message: unknown) => void messages.push(message as Message);
  diagnosticsChannel.subscribe(name, listener);
  return { messages, stop: () => diagnosticsChannel.unsubscribe(name, listener) };
}

function capturingLogger(): { errors: Array<[string, unknown]>; warnings: string[]; error(message: string, error?: unknown): void; warn(message: string): void } {
  const errors: Array<[string, unknown]> = [];
  const warnings: string[] = [];
  return { errors, warnings, error: (message, error) => void errors.push([message, error]), warn: (message) => void warnings.push(message) };
}

describe.each(mounts)("diagnostics through $name", (mount) => {
  let server: Mounted | null = null;
  const stops: Array<() => void> = [];
  afterEach(async () => {
    for (const stop of stops.splice(0)) stop();
    await server?.close();
    server = null;
  });

  test("open, close, refusal and error are published with their endpoint, connection and request", async () => {
    const opened = record(DiagnosticsChannel.connectionOpen);
    const closedChannel = record(DiagnosticsChannel.connectionClose);
    const refusedChannel = record(DiagnosticsChannel.handshakeRefused);
    const errors = record(DiagnosticsChannel.error);
    stops.push(opened.stop, closedChannel.stop, refusedChannel.stop, errors.stop);
    server = await mount.start({ pingInterval: 0, checkOrigin: ["https://good.example"], logger: false }, (connection) => {
      connection.onMessage(() => {
        throw new Error("handler broke");
      });
    });
    const mine = (message: Message) => message.endpoint === server!.endpoint;

    const denied = await refused(server.url(), undefined, { origin: "https://evil.example" });
    expect(denied.status).toBe(403);
    expect(refusedChannel.messages.filter(mine)).toEqual([expect.objectContaining({ status: 403, reason: "origin" })]);
    expect((refusedChannel.messages.find(mine)!.request as { url: string }).url).toBe("/echo");

    const client = await open(server.url(), undefined, { origin: "https://good.example" });
    await until(() => opened.messages.some(mine), "open published");
    const connection = opened.messages.find(mine)!.connection as { id: string };
    expect(server.endpoint.getConnection(connection.id)).toBe(connection);

    client.ws.send("boom");
    await until(() => errors.messages.some(mine), "error published");
    const published = errors.messages.find(mine)!;
    expect(published.connection).toBe(connection);
    expect((published.error as { code: string }).code).toBe("ERR_WSMOUNT_HANDLER_FAILED");

    client.ws.close(4000, "bye");
    await closed(client.ws);
    await until(() => closedChannel.messages.some(mine), "close published");
    expect(closedChannel.messages.find(mine)).toEqual(expect.objectContaining({ connection, code: 4000, reason: "bye" }));
  });

  test("without onError, a handler failing on every message is logged once, with its error", async () => {
    const logger = capturingLogger();
    server = await mount.start({ pingInterval: 0, logger }, (connection) => {
      connection.onMessage((data) => {
        if (data === "done") connection.send("done");
        else throw new Error(`bad message ${String(data)}`);
      });
    });
    const client = await open(server.url());
    for (let i = 0; i < 20; i++) client.ws.send(`m${i}`);
    client.ws.send("done");
    await nextMessage(client.ws);
    expect(logger.errors).toHaveLength(1);
    expect(logger.errors[0]![0]).toContain("bad message m0");
    expect((logger.errors[0]![1] as { code: string }).code).toBe("ERR_WSMOUNT_HANDLER_FAILED");
    client.ws.close();
  });

  test("with onError, nothing is logged and a failing onError is logged instead of thrown", async () => {
    const logger = capturingLogger();
    server = await mount.start({ pingInterval: 0, logger }, (connection) => {
      connection.onMessage(() => {
        throw new Error("handler broke");
      });
    });
    const seen: string[] = [];
    server.endpoint.onError((error) => {
      seen.push(error.message);
      throw new Error("onError broke too");
    });
    const client = await open(server.url());
    client.ws.send("x");
    await until(() => logger.errors.length > 0, "onError failure logged");
    expect(seen).toHaveLength(1);
    expect(logger.errors[0]![0]).toContain("onError handler failed: onError broke too");
    client.ws.close();
  });
});
