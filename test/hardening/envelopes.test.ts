/**
 * What a hostile events client costs the server, through every mount: deep nesting refused before parsing,
 * large payloads to unknown events refused from their first characters, peer errors without stack traces.
 */
import { afterEach, describe, expect, test } from "vitest";
import { nextMessage, open } from "../helpers/client.js";
import { mounts, type Mounted } from "../helpers/mounts.js";

describe.each(mounts)("hostile envelopes through $name", (mount) => {
  let server: Mounted | null = null;
  afterEach(async () => {
    await server?.close();
    server = null;
  });

  async function start(): Promise<{ server: Mounted; errors: Error[] }> {
    const errors: Error[] = [];
    server = await mount.start({ pingInterval: 0, logger: false }, (connection) => {
      connection.on("echo", (data: unknown) => data);
      connection.onMessage((data) => connection.send(data));
    });
    server.endpoint.onError((error) => void errors.push(error));
    return { server, errors };
  }

  test("a call nested 256 K deep is answered too-deep at once, and the connection goes on", async () => {
    const { server } = await start();
    const client = await open(server.url());
    const depth = 256 * 1024;
    const started = performance.now();
    client.ws.send(`wsm1["c",5,"echo",${"[".repeat(depth)}${"]".repeat(depth)}]`);
    const answer = (await nextMessage(client.ws)).data.toString();
    const elapsed = performance.now() - started;
    expect(answer).toBe('wsm1["x",5,{"message":"too-deep","code":"ERR_WSMOUNT_INVALID_ENVELOPE"}]');
    // Parsing it took hundreds of milliseconds; counting brackets to 64 takes microseconds (bound generous for CI).
    expect(elapsed).toBeLessThan(250);
    client.ws.send('wsm1["c",6,"echo",[[1]]]');
    expect((await nextMessage(client.ws)).data.toString()).toBe('wsm1["a",6,[[1]]]');
    client.ws.close();
  });

  test("a call of an unknown event with a large payload is answered unknown-event", async () => {
    const { server, errors } = await start();
    const client = await open(server.url());
    client.ws.send(`wsm1["c",7,"nobody",${JSON.stringify({ blob: "x".repeat(512 * 1024) })}]`);
    expect((await nextMessage(client.ws)).data.toString()).toBe('wsm1["x",7,{"message":"no handler for \\"nobody\\"","code":"ERR_WSMOUNT_UNKNOWN_EVENT"}]');
    expect(errors.map((error) => (error as { code?: string }).code)).toEqual(["ERR_WSMOUNT_UNKNOWN_EVENT"]);
    client.ws.close();
  });

  test("errors a peer causes carry no stack trace", async () => {
    const { server, errors } = await start();
    const client = await open(server.url());
    client.ws.send("wsm1[not json");
    expect((await nextMessage(client.ws)).data.toString()).toContain("ERR_WSMOUNT_INVALID_ENVELOPE");
    expect(errors).toHaveLength(1);
    expect(errors[0]!.stack ?? "").not.toMatch(/\n\s+at /);
    client.ws.close();
  });
});

describe.each(mounts)("maxPendingAcks through $name", (mount) => {
  let server: Mounted | null = null;
  afterEach(async () => {
    await server?.close();
    server = null;
  });

  test("the endpoint's maxPendingAcks bounds calls waiting for a client that never answers", async () => {
    const calls: Array<Promise<unknown>> = [];
    server = await mount.start({ pingInterval: 0, logger: false, maxPendingAcks: 3, ackTimeout: 0 }, (connection) => {
      for (let i = 0; i < 4; i++) calls.push(connection.emitWithAck("question", i).catch((error: { code?: string }) => error.code));
    });
    const client = await open(server.url());
    for (let i = 0; i < 3; i++) expect((await nextMessage(client.ws)).data.toString()).toContain('"question"');
    expect(await calls[3]).toBe("ERR_WSMOUNT_TOO_MANY_PENDING_ACKS");
    client.ws.close();
    expect(await Promise.all(calls.slice(0, 3))).toEqual(["ERR_WSMOUNT_DISCONNECTED", "ERR_WSMOUNT_DISCONNECTED", "ERR_WSMOUNT_DISCONNECTED"]);
  });
});
