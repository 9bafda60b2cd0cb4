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

/** The answer to `hello`. */
export interface Welcome {
  /** The name as the server kept it: cleaned, and suffixed when someone online already has it. */
  me: User;
  rooms: RoomSummary[];
  online: Online;
}

/** The answer to `join`. */
export interface Joined {
  room: string;
  members: User[];
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
  /** The people in a room one is in, after a change. */
  members: (update: { room: string; members: User[] }) => void;
  /** Everyone online, after a change. */
  online: (online: Online) => void;
  /** Every room with its number of members, after a change. */
  rooms: (rooms: RoomSummary[]) => void;
  /** Someone else is typing in a room one is in. */
  typing: (event: { room: string; user: User }) => void;
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
  rate: "E_RATE",
} as const;

/** Limits, enforced by the server (the page checks them too, for a quicker answer). */
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
  /** Rooms in the whole chat (new rooms beyond are refused). */
  rooms: 100,
  /** Messages kept per room for newcomers. */
  history: 50,
  /** Messages one person may send per {@link LIMITS.rateWindow} ms. */
  rateCount: 10,
  rateWindow: 10_000,
  /** People listed in `online` (the total is always exact). */
  onlineListed: 200,
  /** Minimum ms between two `typing` events of one page. */
  typingEvery: 2_000,
} as const;
