/**
 * The room index: room -> connections here, while each connection keeps its own set of rooms (the
 * reverse index), so leaving everything on disconnect costs the connection's rooms, not all rooms.
 * @module
 */
import { callGuarded } from "./guard.js";
import { ErrorCode, WsmountError } from "./errors.js";
import { addListener } from "./listeners.js";

/** What the index needs of a connection. */
export interface RoomMember {
  readonly id: string;
  /** @internal the connection's rooms (reverse index), owned by the index */
  _rooms: Set<string> | null;
}

/** Called when a room gets its first member, or loses its last one. */
export type RoomListener = (room: string) => void;

/** The `code` of the error `join` throws past `maxRoomsPerConnection`. */
export const ROOM_LIMIT = "ERR_WSMOUNT_ROOM_LIMIT";

/** How a room index bounds its members and reports its listeners' failures. */
export interface RoomsOptions<C> {
  /** The most rooms one member may be in; read at each join of a new room. @defaultValue Infinity */
  maxRoomsPerMember?: () => number;
  /**
   * Receives a room listener's failure (a throw or a rejection), with the member whose join or leave
   * called it. Never throws. @defaultValue failures are dropped
   */
  failed?: (error: WsmountError, member: C) => void;
}

/** Rooms of one endpoint, in one process. */
export class Rooms<C extends RoomMember> {
  readonly #rooms = new Map<string, Set<C>>();
  readonly #created: RoomListener[] = [];
  readonly #emptied: RoomListener[] = [];
  readonly #maxRooms: () => number;
  readonly #failed: (error: WsmountError, member: C) => void;

  constructor(options: RoomsOptions<C> = {}) {
    this.#maxRooms = options.maxRoomsPerMember ?? unbounded;
    this.#failed = options.failed ?? ignore;
  }

  /**
   * Adds `member` to `room`; returns false when it was already there. Throws a `RangeError` with
   * `code` `ERR_WSMOUNT_ROOM_LIMIT` when `member` is already in as many rooms as the bound allows:
   * nothing changes then. Listeners run after the index is updated; their failures are reported,
   * never thrown.
   */
  join(member: C, room: string): boolean {
    const mine = member._rooms;
    if (mine !== null && mine.has(room)) return false;
    const limit = this.#maxRooms();
    if (mine !== null && mine.size >= limit) throw roomLimitError(member, room, limit);
    let members = this.#rooms.get(room);
    const created = members === undefined;
    if (members === undefined) {
      members = new Set();
      this.#rooms.set(room, members);
    }
    members.add(member);
    (member._rooms ??= new Set()).add(room);
    if (created) this.#notify(this.#created, "onRoomCreated", room, member);
    return true;
  }

  /** Removes `member` from `room`; returns false when it was not there. Listeners as for `join`. */
  leave(member: C, room: string): boolean {
    const members = this.#rooms.get(room);
    // Both sides of the index change together, even if they somehow disagreed.
    member._rooms?.delete(room);
    if (members === undefined || !members.delete(member)) return false;
    if (members.size === 0) {
      this.#rooms.delete(room);
      this.#notify(this.#emptied, "onRoomEmptied", room, member);
    }
    return true;
  }

  /**
   * Removes `member` from all its rooms (on disconnect), including rooms a listener made it join
   * meanwhile: when this returns, `member` is in no room.
   */
  leaveAll(member: C): void {
    let rooms: Set<string> | null;
    while ((rooms = member._rooms) !== null && rooms.size > 0) {
      const room = rooms.values().next().value as string;
      if (!this.leave(member, room)) rooms.delete(room);
    }
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

  #notify(listeners: RoomListener[], kind: string, room: string, member: C): void {
    if (listeners.length === 0) return;
    const failed = (error: unknown): void => this.#failed(listenerError(kind, room, error), member);
    for (const listener of listeners.slice()) callGuarded(failed, listener, room);
  }
}

const EMPTY: ReadonlySet<never> = new Set();

function unbounded(): number {
  return Infinity;
}

function ignore(): void {}

function quoted(room: string): string {
  return JSON.stringify(room.length > 100 ? `${room.slice(0, 100)}...` : room);
}

function roomLimitError(member: RoomMember, room: string, limit: number): RangeError {
  const error = new RangeError(`wsmount: connection ${member.id} is already in ${limit} rooms (maxRoomsPerConnection) and cannot join ${quoted(room)}`);
  return Object.assign(error, { code: ROOM_LIMIT });
}

function listenerError(kind: string, room: string, error: unknown): WsmountError {
  const message = error instanceof Error ? error.message : String(error);
  return new WsmountError(ErrorCode.HANDLER_FAILED, `wsmount: an ${kind} listener failed for room ${quoted(room)}: ${message}`, { cause: error });
}
