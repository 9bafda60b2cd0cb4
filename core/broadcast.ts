/**
 * Targeted and broadcast sends: `to(room | id, ...)`, `except(...)`, then `emit` an event or `send` a
 * raw message. The message is encoded once and handed to the broker as one publication.
 * @module
 */
import type { Publication } from "./broker.js";
import { encodeEvent, type DefaultEventMap, type EventArgs, type EventMap, type EventNames } from "./protocol/index.js";
import type { SendData } from "./types.js";

/** Targets: room names or connection ids (each connection is also a room named by its id). */
export type Targets = ReadonlyArray<string | readonly string[]>;

/** An immutable description of recipients; each call returns a new one. */
export class Broadcast<Out extends EventMap = DefaultEventMap> {
  readonly #publish: (publication: Publication) => void;
  readonly #to: readonly string[];
  readonly #except: readonly string[];

  /** Made by endpoints and connections (`ws.to(...)`, `conn.broadcast`), never by application code. */
  constructor(publish: (publication: Publication) => void, to: readonly string[] = [], except: readonly string[] = []) {
    this.#publish = publish;
    this.#to = to;
    this.#except = except;
  }

  /** Adds rooms or connection ids to deliver to (with none, every connection is a recipient). */
  to(...targets: Targets): Broadcast<Out> {
    return new Broadcast(this.#publish, [...this.#to, ...flatten(targets)], this.#except);
  }

  /** Leaves out the connections in these rooms, or with these ids. */
  except(...targets: Targets): Broadcast<Out> {
    return new Broadcast(this.#publish, this.#to, [...this.#except, ...flatten(targets)]);
  }

  /** Emits an event to every recipient; the envelope is encoded once. */
  emit<K extends EventNames<Out>>(event: K, ...args: EventArgs<Out, K>): void {
    this.#publish({ to: this.#to, except: this.#except, data: encodeEvent(event, args[0]), binary: false });
  }

  /** Sends a raw message (not an event) to every recipient: strings as text, bytes as binary. */
  send(data: SendData, options: { binary?: boolean } = {}): void {
    const bytes = typeof data === "string" ? data : toBytes(data);
    this.#publish({ to: this.#to, except: this.#except, data: bytes, binary: options.binary ?? typeof data !== "string" });
  }
}

function flatten(targets: Targets): string[] {
  const names: string[] = [];
  for (const target of targets) {
    for (const name of typeof target === "string" ? [target] : target) {
      if (typeof name !== "string" || name.length === 0) throw new TypeError(`wsmount: a target must be a non-empty room name or connection id; got ${String(name)}`);
      names.push(name);
    }
  }
  return names;
}

function toBytes(data: Exclude<SendData, string>): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
