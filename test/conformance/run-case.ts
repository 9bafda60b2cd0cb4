/**
 * Runs one row of the frame-level case tables against a started server: connect, write the
 * frames as the row says, then match the server's answers in order. Rows that leave the
 * connection open are checked further with a probe echo and a clean 1000 close.
 */
import { setImmediate as tick } from "node:timers/promises";
import { expect } from "vitest";
import { closeFrame, textFrame } from "../helpers/frames.js";
import { RawClient, type ServerEvent } from "../helpers/raw-client.js";
import { echoText, closedWith, type Expectation, type FrameCase, type WriteMode } from "./cases.js";

/** Bound on each wait for a server event, in ms. */
const EVENT_WAIT = 3_000;

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** Write frames as one chunk, one write per frame, or one write per byte. */
export async function writeFrames(client: RawClient, frames: Buffer[], mode: WriteMode): Promise<void> {
  if (mode === "together") {
    client.send(Buffer.concat(frames));
    return;
  }
  const chunks = mode === "per-frame" ? frames : [...Buffer.concat(frames)].map((byte) => Buffer.of(byte));
  for (const chunk of chunks) {
    if (client.ended) return;
    client.send(chunk);
    await tick();
  }
}

function describeEvent(event: ServerEvent): string {
  switch (event.kind) {
    case "message":
      return `message(opcode ${event.opcode}, ${event.data.length} bytes${event.data.length <= 40 ? `: ${JSON.stringify(event.data.toString("latin1"))}` : ""})`;
    case "ping":
    case "pong":
      return `${event.kind}(${JSON.stringify(event.payload.toString("latin1"))})`;
    case "close":
      return `close(${event.code ?? "no code"}, ${JSON.stringify(event.reason.toString())})`;
    case "violation":
      return `server protocol violation: ${event.detail}`;
    case "end":
      return event.reset ? "connection reset" : "connection closed";
    case "timeout":
      return "nothing (timed out)";
  }
}

function describeExpectation(expected: Expectation): string {
  switch (expected.kind) {
    case "message":
      return `message(opcode ${expected.opcode}, ${expected.data.length} bytes)`;
    case "pong":
      return `pong(${JSON.stringify(expected.payload.toString("latin1"))})`;
    case "close":
      return `close(${expected.codes.map((c) => c ?? "no code").join(" or ")}) then end`;
  }
}

/** The next event that is not a server-initiated heartbeat ping. */
async function nextEvent(client: RawClient): Promise<ServerEvent> {
  for (let i = 0; i < 100; i++) {
    const event = await client.next(EVENT_WAIT);
    if (event.kind !== "ping") return event;
  }
  throw new Error("more than 100 pings from the server");
}

/** Match the server's answers against `expected`, in order; throws with both sides described. */
export async function expectEvents(client: RawClient, expected: Expectation[]): Promise<void> {
  for (const [index, want] of expected.entries()) {
    const got = await nextEvent(client);
    const fail = (why = ""): never => {
      throw new Error(`answer #${index + 1}: expected ${describeExpectation(want)}, got ${describeEvent(got)}${why}`);
    };
    if (want.kind === "message") {
      if (got.kind !== "message" || got.opcode !== want.opcode) fail();
      if (got.kind === "message" && !got.data.equals(want.data)) fail(" (payload differs)");
    } else if (want.kind === "pong") {
      if (got.kind !== "pong" || !got.payload.equals(want.payload)) fail();
    } else {
      if (got.kind !== "close" || !want.codes.includes(got.code)) fail();
      if (got.kind === "close") {
        // RFC 6455 §5.5.1: the reason is UTF-8 and the whole payload fits a control frame.
        expect(got.reason.length, "close reason length").toBeLessThanOrEqual(123);
        expect(() => strictUtf8.decode(got.reason), "close reason is UTF-8").not.toThrow();
      }
      const after = await nextEvent(client);
      if (after.kind !== "end") {
        throw new Error(`after the close frame: expected the connection to end, got ${describeEvent(after)}`);
      }
    }
  }
}

/** Run one case on a fresh connection to `port`. */
export async function runCase(port: number, testCase: FrameCase): Promise<void> {
  const client = await RawClient.connect(port, testCase.extensions == null ? {} : { extensions: testCase.extensions });
  try {
    await writeFrames(client, testCase.send(), testCase.write ?? "together");
    await expectEvents(client, testCase.expect);
    if (testCase.expect.at(-1)?.kind !== "close") {
      client.send(textFrame("probe after the case"));
      await expectEvents(client, [echoText("probe after the case")]);
      client.send(closeFrame(1000, "done"));
      await expectEvents(client, [closedWith(1000)]);
    }
  } finally {
    client.destroy();
  }
}
