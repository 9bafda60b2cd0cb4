/**
 * Property-based frame traffic (fast-check): random valid messages cut into random fragments
 * (multi-byte characters split anywhere) with pings interleaved and random write chunking must
 * come back exactly; random garbage after the handshake must end in a protocol close or nothing,
 * never a malformed answer, and the endpoint must forget the connection.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Opcode, buildFrame, closeFrame, pingFrame } from "../helpers/frames.js";
import { RawClient } from "../helpers/raw-client.js";
import { VALID_CLOSE_CODES, closedWith, echoBinary, echoText, pong, type Expectation } from "./cases.js";
import { echo } from "./echo.js";
import { expectEvents } from "./run-case.js";
import { mounts, type Mounted } from "./targets.js";
import { waitUntil } from "./wait.js";

const RUNS = 40;

const message: fc.Arbitrary<Message> = fc.record({
  binary: fc.boolean(),
  text: fc.string({ unit: "binary", maxLength: 400 }),
  bytes: fc.uint8Array({ maxLength: 3000 }),
  cuts: fc.array(fc.nat(), { maxLength: 5 }),
  pings: fc.array(fc.uint8Array({ maxLength: 125 }), { maxLength: 3 }),
});

type Message = { binary: boolean; text: string; bytes: Uint8Array; cuts: number[]; pings: Uint8Array[] };

/** Frames for one message: fragments cut at `cuts`, pings spread between them; and what must come back. */
function messageTraffic(m: Message): { frames: Buffer[]; expected: Expectation[] } {
  const payload = m.binary ? Buffer.from(m.bytes) : Buffer.from(m.text, "utf8");
  const points = [...new Set(m.cuts.map((c) => (payload.length === 0 ? 0 : c % payload.length)))].sort((a, b) => a - b);
  const bounds = [0, ...points.filter((p) => p > 0), payload.length];
  const parts = bounds.slice(1).map((end, i) => payload.subarray(bounds[i] ?? 0, end));
  if (parts.length === 0) parts.push(payload);
  const frames: Buffer[] = [];
  const expected: Expectation[] = [];
  parts.forEach((part, i) => {
    frames.push(buildFrame({ opcode: i === 0 ? (m.binary ? Opcode.binary : Opcode.text) : Opcode.continuation, payload: part, fin: i === parts.length - 1 }));
    const ping = m.pings[i];
    if (ping !== undefined && i < parts.length - 1) {
      frames.push(pingFrame(Buffer.from(ping)));
      expected.push(pong(Buffer.from(ping)));
    }
  });
  expected.push(m.binary ? echoBinary(payload) : echoText(payload));
  return { frames, expected };
}

/** Write `bytes` in chunks of the given sizes (cycled), yielding between writes. */
async function writeChunked(client: RawClient, bytes: Buffer, sizes: number[]): Promise<void> {
  if (sizes.length === 0) {
    client.send(bytes);
    return;
  }
  for (let offset = 0, i = 0; offset < bytes.length; i++) {
    const size = sizes[i % sizes.length] ?? bytes.length;
    client.send(bytes.subarray(offset, offset + size));
    offset += size;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe.each(mounts)("frame properties through $name", (mount) => {
  let server: Mounted;

  beforeAll(async () => {
    server = await mount.start({ pingInterval: 0, maxMessageSize: 64 * 1024 }, echo);
  });
  afterAll(async () => {
    await server.close();
  });

  test(`${RUNS} random fragmentations with interleaved pings echo exactly`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(message, { minLength: 1, maxLength: 4 }), fc.array(fc.integer({ min: 1, max: 700 }), { maxLength: 4 }), async (messages, sizes) => {
        const traffic = messages.map(messageTraffic);
        const client = await RawClient.connect(server.port);
        try {
          await writeChunked(client, Buffer.concat(traffic.flatMap((t) => t.frames)), sizes);
          await expectEvents(client, traffic.flatMap((t) => t.expected));
          client.send(closeFrame(1000));
          await expectEvents(client, [closedWith(1000)]);
        } finally {
          client.destroy();
        }
      }),
      { numRuns: RUNS },
    );
  });

  test(`${RUNS} random byte strings after the handshake: a protocol close or nothing, never a crash`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 2000 }), async (garbage) => {
        const client = await RawClient.connect(server.port);
        try {
          client.send(Buffer.from(garbage));
          const events = await client.drain(100);
          for (const event of events) {
            expect(["message", "pong", "close", "end", "timeout"], JSON.stringify(event)).toContain(event.kind);
            // A protocol error code, or the echo of a valid close frame the garbage happened to form.
            if (event.kind === "close") expect(event.code === undefined || VALID_CLOSE_CODES.includes(event.code) || event.code === 1002, String(event.code)).toBe(true);
          }
        } finally {
          client.destroy();
        }
        expect(await waitUntil(() => server.endpoint.size === 0, 2_000)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });
});
