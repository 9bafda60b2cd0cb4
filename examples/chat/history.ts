/**
 * The latest messages of each room, for people who join it. Every message is published on a broker channel,
 * so every process serving the chat keeps the same history (from the moment it started).
 * @module
 */
import { memoryBroker, type Broker, type BrokerChannel } from "wsmount";
import type { ChatMessage } from "./shared/events.js";

/** Options of {@link History}. */
export interface HistoryOptions {
  /** Carries messages between processes. @defaultValue in-process (`memoryBroker()`) */
  broker?: Broker;
  /** The broker channel. @defaultValue "chat/history" */
  channel?: string;
  /** Messages kept per room. @defaultValue 50 */
  perRoom?: number;
  /** Rooms kept; the room least recently written to is forgotten first. @defaultValue 200 */
  rooms?: number;
  /** Where broker faults go. @defaultValue console.error */
  onError?: (error: Error) => void;
}

/** Bounded per-room message history. */
export class History {
  // A Map keeps insertion order: re-inserting a room on each message makes the first one the stalest.
  readonly #rooms = new Map<string, ChatMessage[]>();
  readonly #channel: BrokerChannel;
  readonly #perRoom: number;
  readonly #maxRooms: number;

  constructor(options: HistoryOptions = {}) {
    this.#perRoom = options.perRoom ?? 50;
    this.#maxRooms = options.rooms ?? 200;
    const onError = options.onError ?? ((error: Error) => console.error(`chat history: ${error.message}`));
    this.#channel = (options.broker ?? memoryBroker()).connect(
      options.channel ?? "chat/history",
      (publication) => {
        if (typeof publication.data === "string") this.#receive(publication.data);
      },
      (error, stage) => onError(new Error(`broker ${stage} failed: ${error.message}`, { cause: error })),
    );
  }

  /** Records a message here and on every other process. */
  add(message: ChatMessage): void {
    this.#channel.publish({ to: [], except: [], data: JSON.stringify(message), binary: false });
  }

  /** The latest messages of `room`, oldest first. */
  recent(room: string): ChatMessage[] {
    return [...(this.#rooms.get(room) ?? [])];
  }

  /** Leaves the channel. */
  close(): Promise<void> {
    return this.#channel.close();
  }

  #receive(data: string): void {
    let message: unknown;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    if (!isMessage(message)) return;
    const list = this.#rooms.get(message.room) ?? [];
    this.#rooms.delete(message.room);
    list.push(message);
    if (list.length > this.#perRoom) list.splice(0, list.length - this.#perRoom);
    this.#rooms.set(message.room, list);
    if (this.#rooms.size > this.#maxRooms) this.#rooms.delete(this.#rooms.keys().next().value!);
  }
}

function isMessage(value: unknown): value is ChatMessage {
  if (typeof value !== "object" || value === null) return false;
  const m = value as Partial<ChatMessage>;
  return (
    typeof m.id === "string" &&
    typeof m.room === "string" &&
    typeof m.text === "string" &&
    typeof m.at === "number" &&
    typeof m.from === "object" &&
    m.from !== null &&
    typeof m.from.id === "string" &&
    typeof m.from.name === "string"
  );
}
