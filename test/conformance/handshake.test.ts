/**
 * Hostile opening handshakes from raw sockets: named malformed requests, then property-based
 * ones (fast-check). Every invalid request gets a well-formed HTTP error or a clean close; no
 * crash, no connection the endpoint treats as open; valid variants still open.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { rawExchange, RawClient } from "../helpers/raw-client.js";
import { closeFrame, textFrame } from "../helpers/frames.js";
import { INVALID_HANDSHAKES, expectHarmlessAnswer, invalidRequest, serialise, validRequest, validVariant } from "./handshakes.js";
import { mounts, type Mounted as Started, type Connection as TestConnection } from "./targets.js";
import { waitUntil } from "./wait.js";

/** Property runs per mount; each is one connection. */
const RUNS = 120;

describe.each(mounts)("hostile handshakes through $name", (mount) => {
  let server: Started;
  let opened = 0;

  beforeAll(async () => {
    server = await mount.start({ pingInterval: 0, handshakeTimeout: 2_000 }, (conn: TestConnection) => {
      opened++;
      conn.onMessage((data) => conn.send(data));
    });
  });
  afterAll(async () => {
    await server.close();
  });

  test.each(INVALID_HANDSHAKES.map((c) => [c.name, c] as const))("%s", async (_name, { mutate, statuses }) => {
    const before = opened;
    const request = validRequest(server.port);
    mutate(request);
    const text = serialise(request);
    const exchange = await rawExchange(server.port, text, 2_000);
    expectHarmlessAnswer(exchange, text, statuses);
    expect(opened).toBe(before);
    expect(server.endpoint.size).toBe(0);
  });

  test(`${RUNS} random invalid handshakes: harmless answers, nothing opened`, async () => {
    const before = opened;
    await fc.assert(
      fc.asyncProperty(invalidRequest(server.port), async ({ request }) => {
        const exchange = await rawExchange(server.port, request, 2_000);
        expectHarmlessAnswer(exchange, request);
      }),
      { numRuns: RUNS },
    );
    expect(opened).toBe(before);
    expect(await waitUntil(() => server.endpoint.size === 0, 1_000)).toBe(true);
  });

  test("valid handshakes with harmless variations (casing, order, extra headers) open", async () => {
    await fc.assert(
      fc.asyncProperty(validVariant(server.port), async ({ request }) => {
        const exchange = await rawExchange(server.port, request, 2_000);
        expect(exchange.head?.statusCode, exchange.bytes.toString("latin1").slice(0, 200)).toBe(101);
      }),
      { numRuns: 30 },
    );
  });

  test("the endpoint still serves a well-behaved client afterwards", async () => {
    const client = await RawClient.connect(server.port);
    client.send(textFrame("still alive"));
    const event = await client.next();
    expect(event.kind === "message" && event.data.toString()).toBe("still alive");
    client.send(closeFrame(1000));
    expect((await client.next()).kind).toBe("close");
    client.destroy();
  });
});
