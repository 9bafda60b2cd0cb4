/**
 * The chat's events, shared by the server (examples/chat/app.ts) and the page (examples/chat/page/): wrong
 * event names or payloads are compile errors on both sides.
 * @module
 */

/** Someone in the chat: the id is their connection's id, the name is unique among the people online. */
export interface User {
  id: string;
  name: string;
}

/** A chat message, as the server stamped it. */
export interface ChatMessage {
  /** Unique message id. */
  id: string;
  room: string;
  from: User;
  text: string;
  /** Server time, ms since the epoch. */
  at: number;
}

/** Someone joined or left a room. */
export interface Notice {
  room: string;
  kind: "joined" | "left";
  user: User;
  at: number;
}

/** A room and how many people are in it (across every server process). */
export interface RoomSummary {
  name: string;
  members: number;
}

/** Who is online (at most {@link LIMITS.onlineListed} listed) and how many in all. */
export interface Online {
  total: number;
  users: User[];
}

/**
 * A change of a room's members: who came in, who went (by id). The join answer holds the members at that
 * moment; the page keeps them up to date with these, so a change costs its own size, not the room's.
 * Applying a delta twice, or one that the join answer already held, changes nothing; a delta whose
 * `version` is not above the join answer's is older than it and is skipped.
 */
export interface PresenceDelta {
  /** Counts up with each change the server tells (per server process, so per connection). */
  version: number;
  room: string;
  joined: User[];
  /** Ids of the people who left. */
  left: string[];
}

/** A change of who is online (same rules as {@link PresenceDelta}), with the new total. */
export interface OnlineDelta {
  total: number;
  joined: User[];
  left: string[];
}

/** A call or event refused because its sender went past the rate of that kind (sent once per episode). */
export interface RateNotice {
  event: keyof ClientEvents;
  /** Ms until one more is accepted. */
  retryIn: number;
}

/** The answer to `hello`. */
export interface Welcome {
  /** The name as the server kept it: cleaned, and suffixed when someone online already has it (or a look-alike). */
  me: User;
  /** The busiest rooms (at most {@link LIMITS.roomsListed}); `rooms` events update them. */
  rooms: RoomSummary[];
  /** Some people online (at most {@link LIMITS.onlineListed}) and the total; `online` events update them. */
  online: Online;
}

/** The answer to `join`. */
export interface Joined {
  room: string;
  /** The members now; `presence` events with a higher `version` update them. */
  members: User[];
  /** The presence version of `members`. */
  version: number;
  /** The room's latest messages, oldest first. */
  history: ChatMessage[];
}

/** What the page sends. Calls (with an answer) throw {@link ChatErrorCode}s on refusal. */
export interface ClientEvents {
  /** Enter the chat with a name; answered with the name kept and what is going on. */
  hello: (request: { name: string }) => Welcome;
  /** Join (or create) a room. */
  join: (room: string) => Joined;
  /** Leave a room. */
  leave: (room: string) => boolean;
  /** Send a message to a room one is in; answered with the message as stamped. */
  send: (message: { room: string; text: string }) => ChatMessage;
  /** "I am typing in this room" (at most every {@link LIMITS.typingEvery} ms). */
  typing: (room: string) => void;
}

/** What the server pushes. */
export interface ServerEvents {
  /** A message in a room one is in (the sender gets it too). */
  message: (message: ChatMessage) => void;
  /** Someone else joined or left a room one is in. */
  notice: (notice: Notice) => void;
  /** The members of a room one is in changed. */
  presence: (delta: PresenceDelta) => void;
  /** Who is online changed. */
  online: (delta: OnlineDelta) => void;
  /** Rooms whose number of members changed (`0`: the room is gone). */
  rooms: (changed: RoomSummary[]) => void;
  /** Someone else is typing in a room one is in. */
  typing: (event: { room: string; user: User }) => void;
  /** Something this page sent was dropped: too many of that kind. */
  limited: (notice: RateNotice) => void;
}

/** Error codes of refused calls (the `code` of the client's `RemoteError`). */
export const ChatErrorCode = {
  name: "E_NAME",
  room: "E_ROOM",
  text: "E_TEXT",
  notNamed: "E_NOT_NAMED",
  alreadyNamed: "E_ALREADY_NAMED",
  notJoined: "E_NOT_JOINED",
  tooManyRooms: "E_TOO_MANY_ROOMS",
  tooManyUsers: "E_TOO_MANY_USERS",
  rate: "E_RATE",
} as const;

/** A token bucket: `burst` at once, then one more every `every` ms. */
export interface Rate {
  burst: number;
  every: number;
}

/** Limits, enforced by the server (the page checks some of them too, for a quicker answer). */
export const LIMITS = {
  /** Characters (code points) in a name. */
  name: 24,
  /** Characters (code points) in a room name. */
  room: 24,
  /** Characters (code points) in a message. */
  text: 500,
  /** Lines in a message. */
  lines: 12,
  /** Rooms one person can be in. */
  roomsPerUser: 10,
  /**
   * People named at once from one IP address. With {@link LIMITS.roomsPerUser}, this bounds the rooms one
   * address can hold (320) far below {@link LIMITS.rooms}: squatting the whole chat takes 32 addresses.
   */
  usersPerAddress: 32,
  /** Open connections per server process (more get `503` at the handshake). */
  connections: 10_000,
  /** Rooms in the whole chat: a bound on memory, out of reach of one address (new rooms beyond are refused). */
  rooms: 10_000,
  /** Messages kept per room for newcomers. */
  history: 50,
  /** Per person and per kind of call or event: past it, dropped (calls are answered `E_RATE`). */
  rate: {
    hello: { burst: 5, every: 5_000 },
    join: { burst: 12, every: 2_000 },
    leave: { burst: 12, every: 2_000 },
    send: { burst: 10, every: 1_000 },
    typing: { burst: 3, every: 2_000 },
  } satisfies Record<keyof ClientEvents, Rate>,
  /** New people (hellos that are answered) per IP address. */
  helloPerAddress: { burst: 20, every: 2_000 } satisfies Rate,
  /** Invalid messages per connection (bad envelopes, unknown events): past it, the connection is closed (1008). */
  invalid: { burst: 10, every: 1_000 } satisfies Rate,
  /** People listed in the welcome (the total is always exact). */
  onlineListed: 200,
  /** Rooms listed in the welcome, the busiest first. */
  roomsListed: 50,
  /** Minimum ms between two `typing` events of one page. */
  typingEvery: 2_000,
} as const;

/** The server's limits, as {@link LIMITS} sets them or a chat's options override them. */
export type Limits = {
  -readonly [K in Exclude<keyof typeof LIMITS, "rate">]: (typeof LIMITS)[K] extends number ? number : Rate;
} & { rate: Record<keyof ClientEvents, Rate> };
