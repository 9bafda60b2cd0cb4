/** A plain `ws` client that speaks the events protocol through the shared codec, for server tests. */
import WebSocket from "ws";
import { decode, encodeAck, encodeAckError, encodeEvent, type Decoded } from "../../core/protocol/index.js";
import { until, WAIT, within } from "./client.js";

export class ProtocolClient {
  readonly ws: WebSocket;
  /** Every decoded envelope received, in order. */
  readonly received: Decoded[] = [];
  /** Raw (non-envelope) messages received: text as is, binary as `binary:<hex>`. */
  readonly raw: string[] = [];
  #nextAck = 100;
  #answers = new Map<string, (data: unknown) => unknown>();

  constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        this.raw.push(`binary:${data.toString("hex")}`);
        return;
      }
      const text = data.toString();
      const message = decode(text);
      if (message.kind === "raw") {
        this.raw.push(text);
        return;
      }
      this.received.push(message);
      if (message.kind === "event" && message.ackId !== undefined) {
        const answer = this.#answers.get(message.name);
        if (answer === undefined) return;
        try {
          ws.send(encodeAck(message.ackId, answer(message.data)));
        } catch (error) {
          ws.send(encodeAckError(message.ackId, { message: (error as Error).message, code: (error as { code?: string }).code }));
        }
      }
    });
  }

  /** Connects; the client listens from before the handshake completes, so it misses no message. */
  static async connect(url: string, headers?: Record<string, string>): Promise<ProtocolClient> {
    const client = new ProtocolClient(new WebSocket(url, headers ? { headers } : undefined));
    await within(
      new Promise<void>((resolve, reject) => {
        client.ws.once("open", () => resolve());
        client.ws.once("error", reject);
        client.ws.once("unexpected-response", (_request, response) => reject(new Error(`unexpected response ${response.statusCode}`)));
      }),
      `open ${url}`,
    );
    return client;
  }

  emit(name: string, data?: unknown): void {
    this.ws.send(encodeEvent(name, data));
  }

  /** Sends a call and resolves with the answer envelope. */
  async call(name: string, data?: unknown): Promise<Decoded> {
    const ackId = this.#nextAck++;
    this.ws.send(encodeEvent(name, data, ackId));
    let found: Decoded | undefined;
    await until(() => (found = this.received.find((m) => (m.kind === "ack" || m.kind === "ackError") && m.ackId === ackId)) !== undefined, `the answer to ${name}`);
    return found!;
  }

  /** Answers the server's calls of `name` with `answer(data)` (a throw answers with an error). */
  answer(name: string, answer: (data: unknown) => unknown): void {
    this.#answers.set(name, answer);
  }

  /** Events named `name` received so far (their data). */
  events(name: string): unknown[] {
    return this.received.flatMap((m) => (m.kind === "event" && m.name === name ? [m.data] : []));
  }

  async waitForEvents(name: string, count: number, ms = WAIT): Promise<unknown[]> {
    await until(() => this.events(name).length >= count, `${count} "${name}" events`, ms);
    return this.events(name);
  }

  close(): void {
    this.ws.terminate();
  }
}
