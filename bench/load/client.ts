/**
 * Protocol-independent client for the load scenarios: plain WebSocket, or socket.io's wire protocol
 * (Engine.IO v4 + Socket.IO v5 over a WebSocket, the bytes socket.io-client sends with
 * `transports: ["websocket"]`), on top of {@link WireConnection}.
 */
import { constants, inflateRawSync } from "node:zlib";
import { AUTH_TOKEN, type Route } from "../servers/contract.js";
import { maskedFrame, Opcode, WireConnection, type WireTarget } from "./wire.js";

/** Wire protocol a target speaks. */
export type ProtocolName = "ws" | "socket.io";

/** Where and how to connect. */
export interface ClientOptions {
  protocol: ProtocolName;
  port: number;
  route: Route;
  /** Send the bench token (handshake scenario). */
  authenticate?: boolean;
  deflate?: boolean;
  localAddress?: string;
}

/** Receives every application message: a WebSocket data frame, or a socket.io event (text) / attachment (binary). */
export type MessageListener = (isBinary: boolean, rsv1: boolean, payload: Buffer | null, length: number) => void;

const SOCKET_IO_PATH = "/socket.io/?EIO=4&transport=websocket";
const PONG = maskedFrame(Opcode.text, "3");
/** RFC 7692 section 7.2.2: the sender strips this tail from every compressed message. */
const DEFLATE_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** Encodes one application message as the frame(s) to write. socket.io binary events take two frames. */
export function encodeMessage(protocol: ProtocolName, event: string, data: string | Buffer): Buffer {
  if (protocol === "ws") return maskedFrame(typeof data === "string" ? Opcode.text : Opcode.binary, data);
  if (typeof data === "string") return maskedFrame(Opcode.text, `42${JSON.stringify([event, data])}`);
  const header = maskedFrame(Opcode.text, `451-${JSON.stringify([event, { _placeholder: true, num: 0 }])}`);
  return Buffer.concat([header, maskedFrame(Opcode.binary, data)]);
}

/** One load-generator connection; `onReady` fires once it can carry messages. */
export class Client {
  readonly wire: WireConnection;
  ready = false;
  onReady: () => void = () => {};
  onMessage: MessageListener = () => {};
  onClosed: (error?: Error) => void = () => {};
  /** socket.io: the Engine.IO open packet has arrived. */
  #opened = false;
  /** socket.io with permessage-deflate: plaintext received so far (the inflate window), until ready. */
  #history: Buffer = Buffer.alloc(0);

  constructor(options: ClientOptions) {
    const target: WireTarget = { port: options.port, path: options.route };
    if (options.deflate) target.deflate = true;
    if (options.localAddress) target.localAddress = options.localAddress;
    if (options.protocol === "ws") {
      if (options.authenticate) target.headers = { authorization: `Bearer ${AUTH_TOKEN}` };
      this.wire = new WireConnection(target);
      this.wire.onOpen = () => this.#becomeReady();
      this.wire.onFrame = (opcode, rsv1, payload, length) => {
        if (opcode === Opcode.text || opcode === Opcode.binary) this.onMessage(opcode === Opcode.binary, rsv1, payload, length);
      };
    } else {
      target.path = SOCKET_IO_PATH;
      this.wire = new WireConnection(target);
      const namespace = options.route === "/auth" ? "/auth," : "";
      const auth = options.authenticate ? JSON.stringify({ token: AUTH_TOKEN }) : "";
      const connectPacket = maskedFrame(Opcode.text, `40${namespace}${auth}`);
      this.wire.onFrame = (opcode, rsv1, payload, length) => this.#onSocketIoFrame(opcode, rsv1, payload, length, connectPacket);
    }
    this.wire.onClosed = (error) => this.onClosed(error);
  }

  write(bytes: Buffer): void {
    this.wire.write(bytes);
  }

  close(): void {
    this.wire.close();
  }

  destroy(): void {
    this.wire.destroy();
  }

  /**
   * Inflates a handshake-phase message. With context takeover the server's LZ77 window carries over
   * between messages; handing the previous plaintext in as the dictionary reproduces it exactly.
   */
  #inflate(payload: Buffer): Buffer {
    const options = { finishFlush: constants.Z_SYNC_FLUSH, ...(this.#history.length ? { dictionary: this.#history } : {}) };
    const plain = inflateRawSync(Buffer.concat([payload, DEFLATE_TAIL]), options);
    this.#history = Buffer.concat([this.#history, plain]).subarray(-32_768);
    return plain;
  }

  #becomeReady(): void {
    this.ready = true;
    this.onReady();
  }

  #onSocketIoFrame(opcode: number, rsv1: boolean, payload: Buffer | null, length: number, connectPacket: Buffer): void {
    if (opcode === Opcode.binary) {
      this.onMessage(true, rsv1, payload, length);
      return;
    }
    if (opcode !== Opcode.text || payload === null || payload.length === 0) return;
    // Compressed frames are not inflated once connected (see wire.ts): every compressed frame is then
    // counted as an event. With context takeover ws compresses every message whatever the threshold
    // (it applies the threshold only with server_no_context_takeover), so a compressed ping would be
    // counted and left unanswered: harmless in runs far shorter than socket.io's 25 s ping interval.
    // Binary events are never sent compressed by the benchmark.
    if (rsv1) {
      if (this.ready) {
        this.onMessage(false, true, payload, length);
        return;
      }
      payload = this.#inflate(payload);
    }
    const type = payload[0];
    if (type === 0x32 /* "2" ping */ && payload.length === 1) {
      this.wire.write(PONG);
    } else if (type === 0x30 /* "0" open */ && !this.#opened) {
      this.#opened = true;
      this.wire.write(connectPacket);
    } else if (type === 0x34 /* "4" message */) {
      const packet = payload[1];
      if (packet === 0x32 /* EVENT */) this.onMessage(false, false, payload, length);
      else if (packet === 0x30 /* CONNECT ack */ && !this.ready) this.#becomeReady();
      else if (packet === 0x34 /* CONNECT_ERROR */) {
        this.wire.refusal = payload.toString();
        this.wire.destroy();
      }
      // "45..." (BINARY_EVENT header) carries only a placeholder: its attachment frame is the message.
    }
  }
}
