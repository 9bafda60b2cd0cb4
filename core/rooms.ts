/**
 * The room index: room -> connections here, while each connection keeps its own set of rooms (the
 * reverse index), so leaving everything on disconnect costs the connection's rooms, not all rooms.
 * @module
 */
import { addListener } from "./listeners.js";

/** What the index needs of a connection. */
export interface RoomMember {
  readonly id: string;
  /** @internal the connection's rooms (reverse index), owned by the index */
  _rooms: Set<string> | null;
}

/** Called when a room gets its first member, or loses its last one. */
export type RoomListener = (room: string) => void;

/** Rooms of one endpoint, in one process. */
export class Rooms<C extends RoomMember> {
  readonly #rooms = new Map<string, Set<C>>();
  readonly #created: RoomListener[] = [];
  readonly #emptied: RoomListener[] = [];

  /** Adds `member` to `room`; returns false when it was already there. */
  join(member: C, room: string): boolean {
    let members = this.#rooms.get(room);
    if (members === undefined) {
      members = new Set();
      this.#rooms.set(room, members);
      members.add(member);
      (member._rooms ??= new Set()).add(room);
      for (const listener of this.#created.slice()) listener(room);
      return true;
    }
    if (members.has(member)) return false;
    members.add(member);
    (member._rooms ??= new Set()).add(room);
    return true;
  }

  /** Removes `member` from `room`; returns false when it was not there. */
  leave(member: C, room: string): boolean {
    const members = this.#rooms.get(room);
    if (members === undefined || !members.delete(member)) return false;
    member._rooms?.delete(room);
    if (members.size === 0) {
      this.#rooms.delete(room);
      for (const listener of this.#emptied.slice()) listener(room);
    }
    return true;
  }

  /** Removes `member` from all its rooms (on disconnect). */
  leaveAll(member: C): void {
    const rooms = member._rooms;
    if (rooms === null) return;
    for (const room of [...rooms]) this.leave(member, room);
    member._rooms = null;
  }

  /** The members of `room` here (empty when there is no such room). */
  members(room: string): ReadonlySet<C> {
    return this.#rooms.get(room) ?? EMPTY;
  }

  /** The rooms that have members here. */
  names(): IterableIterator<string> {
    return this.#rooms.keys();
  }

  /** Subscribes to rooms getting their first member. */
  onCreated(listener: RoomListener): () => void {
    return addListener(this.#created, listener);
  }

  /** Subscribes to rooms losing their last member. */
  onEmptied(listener: RoomListener): () => void {
    return addListener(this.#emptied, listener);
  }
}

const EMPTY: ReadonlySet<never> = new Set();

