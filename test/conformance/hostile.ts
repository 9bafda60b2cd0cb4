/**
 * Hostile clients, one function per way of misbehaving. Each resolves once the server has ended
 * the connection (or the client gave up), with what happened, and never rejects: the isolation
 * test runs hundreds of them at once.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { randomBytes } from "node:crypto";
import { binaryFrame, buildFrame, closePayload, deflateMessage, Opcode, pingFrame, textFrame } from "../helpers/frames.js";
import { RawClient, handshakeLines, openSocket, rawExchange } from "../helpers/raw-client.js";
import { INVALID_HANDSHAKES, serialise, validRequest } from "./handshakes.js";
import { dribble, floodWithoutReading } from "./slow-clients.js";

/** How a hostile client's connection ended. */
export interface HostileOutcome {
  kind: string;
  /** The server ended the connection (as opposed to the client giving up at its deadline). */
  cutByServer: boolean;
  /** The server accepted a handshake it should have refused. */
  wronglyAccepted?: boolean;
  /** The close code the server sent, if any. */
  closeCode?: number | undefined;
}

let bomb: Buffer | undefined;
/** 16 MiB of zeros deflated (about 16 KiB), compressed once for every bomb. */
function deflateBomb(): Buffer {
  bomb ??= deflateMessage(Buffer.alloc(16 * 1024 * 1024));
  return bomb;
}

/** Bound on how long any hostile client keeps trying, in ms. */
export const HOSTILE_DEADLINE = 8_000;

async function untilEnd(client: RawClient, kind: string): Promise<HostileOutcome> {
  let closeCode: number | undefined;
  const deadline = Date.now() + HOSTILE_DEADLINE;
  for (let i = 0; i < 100_000 && Date.now() < deadline; i++) {
    const event = await client.next(Math.max(1, deadline - Date.now()));
    if (event.kind === "close") closeCode = event.code;
    if (event.kind === "end") {
      client.destroy();
      return { kind, cutByServer: true, closeCode };
    }
    if (event.kind === "timeout") break;
  }
  client.destroy();
  return { kind, cutByServer: false, closeCode };
}

async function connected(port: number, kind: string, use: (client: RawClient) => Promise<HostileOutcome>, extensions?: string): Promise<HostileOutcome> {
  let client: RawClient;
  try {
    client = await RawClient.connect(port, extensions === undefined ? {} : { extensions });
  } catch {
    return { kind, cutByServer: true };
  }
  return use(client);
}

/** Every kind of hostile client, by name. */
export const HOSTILE: Record<string, (port: number, index: number) => Promise<HostileOutcome>> = {
  /** One of the named malformed handshakes. */
  async "malformed handshake"(port, index) {
    const invalid = INVALID_HANDSHAKES[index % INVALID_HANDSHAKES.length]!;
    const request = validRequest(port);
    invalid.mutate(request);
    const exchange = await rawExchange(port, serialise(request), HOSTILE_DEADLINE);
    return {
      kind: "malformed handshake",
      cutByServer: exchange.ending !== "timeout",
      wronglyAccepted: exchange.bytes.toString("latin1").startsWith("HTTP/1.1 101"),
    };
  },
  /** The handshake one byte every 50 ms. */
  async "slowloris handshake"(port) {
    const socket = await openSocket(port);
    const result = await dribble(socket, handshakeLines(port).join("\r\n") + "\r\n\r\n", 50);
    return { kind: "slowloris handshake", cutByServer: result.cutOff, wronglyAccepted: result.received.toString("latin1").startsWith("HTTP/1.1 101") };
  },
  /** Completes the handshake, then says nothing and answers nothing. */
  async "silent after handshake"(port) {
    return connected(port, "silent after handshake", (client) => untilEnd(client, "silent after handshake"));
  },
  /** Sends one of several protocol violations. */
  async "protocol violation"(port, index) {
    const violations = [
      () => textFrame("x", { rsv2: true }),
      () => buildFrame({ opcode: 0xb, payload: "reserved" }),
      () => textFrame(Buffer.from([0xed, 0xa0, 0x80])),
      () => buildFrame({ opcode: Opcode.close, payload: closePayload(1005) }),
      () => textFrame("unmasked", { mask: false }),
      () => pingFrame(Buffer.alloc(126)),
    ];
    return connected(port, "protocol violation", async (client) => {
      client.send(violations[index % violations.length]!());
      return untilEnd(client, "protocol violation");
    });
  },
  /** Stops reading and keeps sending messages to be echoed. */
  async "non-reading flood"(port) {
    return connected(port, "non-reading flood", async (client) => {
      const { cut } = await floodWithoutReading(client, () => client.ended, { size: 64 * 1024, pace: 10, maxBytes: 24 * 1024 * 1024 });
      client.socket.resume();
      const outcome = await untilEnd(client, "non-reading flood");
      return { ...outcome, cutByServer: cut || outcome.cutByServer };
    });
  },
  /** Resets the TCP connection in the middle of a frame. */
  async "reset mid-frame"(port) {
    return connected(port, "reset mid-frame", async (client) => {
      const frame = binaryFrame(randomBytes(4096));
      client.send(frame.subarray(0, 1000));
      await sleep(20);
      client.socket.resetAndDestroy();
      return { kind: "reset mid-frame", cutByServer: true };
    });
  },
  /** A deflate bomb: 16 MiB of zeros in about 16 KiB. */
  async "deflate bomb"(port) {
    return connected(
      port,
      "deflate bomb",
      async (client) => {
        client.send(binaryFrame(deflateBomb(), { rsv1: client.negotiated.deflate }));
        return untilEnd(client, "deflate bomb");
      },
      "permessage-deflate",
    );
  },
  /** A message one byte over maxMessageSize, announced up front. */
  async "oversized message"(port) {
    return connected(port, "oversized message", async (client) => {
      client.send(buildFrame({ opcode: Opcode.binary, declaredLength: 64 * 1024 * 1024, payload: randomBytes(1024) }));
      return untilEnd(client, "oversized message");
    });
  },
};
