/**
 * The chat page. It talks to the server with the wsmount client served at /wsmount.js (this bundle imports
 * it from there), reconnects by itself, and after a reconnection says hello again and rejoins its rooms.
 * @module
 */
import { AckError, connect, RemoteError, type ClientState, type RetryInfo } from "wsmount/client";
import {
  LIMITS,
  type ChatMessage,
  type ClientEvents,
  type Joined,
  type Notice,
  type Online,
  type OnlineDelta,
  type PresenceDelta,
  type RoomSummary,
  type ServerEvents,
  type User,
  type Welcome,
} from "../shared/events.js";
import { checkName, checkRoom, checkText } from "../shared/validate.js";
import { avatar, byId, fill, h, timeOf } from "./dom.js";

/** A room this page is in. */
interface RoomView {
  readonly name: string;
  /** The members, by id: the join answer, then kept up to date by `presence` deltas. */
  readonly members: Map<string, User>;
  /** The presence version of `members`: older deltas are skipped. */
  version: number;
  /** The room's own scrolling message list. */
  readonly log: HTMLDivElement;
  /** Ids of the messages shown, so history after a reconnection adds only what is new. */
  readonly seen: Set<string>;
  unread: number;
  /** Who wrote the last entry, and when: consecutive messages of one person are grouped. */
  last: { author: string; at: number } | null;
  /** Who is typing: user id to name and expiry timer. */
  readonly typing: Map<string, { name: string; timer: ReturnType<typeof setTimeout> }>;
}

// One collator for every comparison: `localeCompare` with options builds one per call (about 25 times slower).
const NAMES = new Intl.Collator(undefined, { sensitivity: "base" });
const GROUP_WITHIN = 5 * 60_000;
const TYPING_SHOWN = 3_500;
const NAME_KEY = "wsmount-chat:name";
/** People kept for the online list (it shows fewer; the total is always exact). */
const ONLINE_KEPT = 1_000;

const ui = {
  welcome: byId("welcome"),
  nameForm: byId<HTMLFormElement>("name-form"),
  nameInput: byId<HTMLInputElement>("name-input"),
  nameError: byId("name-error"),
  nameSubmit: byId<HTMLButtonElement>("name-submit"),
  welcomeStatus: byId("welcome-status"),
  chat: byId("chat"),
  sidebar: byId("sidebar"),
  scrim: byId("scrim"),
  menuButton: byId<HTMLButtonElement>("menu-button"),
  meAvatar: byId("me-avatar"),
  meName: byId("me-name"),
  statusDot: byId("status-dot"),
  statusText: byId("status-text"),
  roomList: byId("room-list"),
  roomForm: byId<HTMLFormElement>("room-form"),
  roomInput: byId<HTMLInputElement>("room-input"),
  roomError: byId("room-error"),
  membersRoom: byId("members-room"),
  membersCount: byId("members-count"),
  memberList: byId("member-list"),
  onlineCount: byId("online-count"),
  onlineList: byId("online-list"),
  roomTitle: byId("room-title"),
  roomSubtitle: byId("room-subtitle"),
  leaveButton: byId<HTMLButtonElement>("leave-button"),
  banner: byId("banner"),
  log: byId("log"),
  typing: byId("typing"),
  composer: byId<HTMLFormElement>("composer"),
  textInput: byId<HTMLTextAreaElement>("text-input"),
  composerError: byId("composer-error"),
};

const state = {
  me: null as User | null,
  rooms: new Map<string, RoomView>(),
  current: null as string | null,
  /** Rooms and their number of members: the welcome's busiest rooms, then `rooms` deltas. */
  directory: new Map<string, number>(),
  /** Who is online: the welcome's list and total, then `online` deltas. */
  online: { total: 0, users: new Map<string, User>() },
  /** Named and in our rooms on the current connection: messages can go out. */
  ready: false,
  /** Messages written while not ready, sent once the page is back. */
  outbox: [] as Array<{ room: string; text: string; element: HTMLElement }>,
  lastTypingSent: 0,
  /**
   * Deltas that arrived while the snapshot they follow was on its way: those of rooms being joined, and
   * of who is online and the rooms while the hello is (null when none is).
   */
  joining: new Map<string, PresenceDelta[]>(),
  greeting: null as Array<() => void> | null,
};

const url = new URL("/chat", location.href);
url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
const client = connect<ServerEvents, ClientEvents>(url, {
  reconnect: { initialDelay: 250, maxDelay: 5_000 },
  ackTimeout: 8_000,
  queueSize: 50,
});

// ---- connection --------------------------------------------------------------------------------------

client.onStateChange((clientState, retry) => showConnection(clientState, retry));

client.onDisconnect(() => {
  state.ready = false;
  showBanner("Connection lost. Reconnecting…", "warning");
});

client.onConnect(() => {
  // After a reconnection the server has forgotten us (it may even be another process): say hello again.
  if (state.me !== null) void resume();
});

client.onError((error) => console.warn("chat:", error));

function showConnection(clientState: ClientState, retry: RetryInfo | undefined): void {
  const text =
    clientState === "open"
      ? "Online"
      : clientState === "connecting"
        ? "Connecting…"
        : clientState === "reconnecting"
          ? `Reconnecting${retry && retry.delay >= 1_000 ? ` in ${Math.round(retry.delay / 1_000)} s` : ""}…`
          : "Offline";
  document.querySelectorAll<HTMLElement>(".dot").forEach((dot) => (dot.dataset.state = clientState));
  ui.statusText.textContent = text;
  ui.welcomeStatus.textContent = clientState === "open" ? "Connected" : text;
}

async function resume(): Promise<void> {
  const me = state.me!;
  try {
    const welcome = await hello(me.name);
    setMe(welcome.me);
    // Rooms joined before (or the lobby, if the connection dropped before it was joined).
    const rooms = state.rooms.size > 0 ? [...state.rooms.keys()] : ["lobby"];
    for (const room of rooms) await enterRoom(room);
    if (state.current === null) showRoom(rooms[0]!);
    state.ready = true;
    renderSidebar();
    showBanner("Reconnected.", "ok", 2_000);
    await flushOutbox();
  } catch (error) {
    // The connection dropped again: the next onConnect tries again.
    if (error instanceof AckError) return;
    showBanner(`Could not rejoin: ${messageOf(error)}`, "error");
  }
}

// ---- entering the chat ---------------------------------------------------------------------------------

ui.nameInput.value = localStorage.getItem(NAME_KEY) ?? "";
ui.nameInput.focus();

ui.nameForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const checked = checkName(ui.nameInput.value);
  if (!checked.ok) {
    ui.nameError.textContent = checked.reason;
    return;
  }
  void enterChat(checked.value);
});

async function enterChat(name: string): Promise<void> {
  ui.nameError.textContent = "";
  ui.nameSubmit.disabled = true;
  ui.nameSubmit.textContent = "Joining…";
  try {
    const welcome = await hello(name);
    localStorage.setItem(NAME_KEY, name);
    setMe(welcome.me);
    ui.welcome.hidden = true;
    ui.chat.hidden = false;
    await enterRoom("lobby");
    state.ready = true;
    showRoom("lobby");
    ui.textInput.focus();
  } catch (error) {
    ui.nameError.textContent = messageOf(error);
  } finally {
    ui.nameSubmit.disabled = false;
    ui.nameSubmit.textContent = "Join the chat";
  }
}

/**
 * Says hello and starts the sidebar's lists over from the welcome (a snapshot). Deltas keep them up to date
 * from there; those that arrive before the welcome is applied wait for it.
 */
async function hello(name: string): Promise<Welcome> {
  state.greeting = [];
  try {
    const welcome = await client.emitWithAck("hello", { name });
    setDirectory(welcome.rooms, welcome.online);
    for (const apply of state.greeting) apply();
    return welcome;
  } finally {
    state.greeting = null;
  }
}

/** Starts the sidebar's lists over from a welcome (a snapshot). */
function setDirectory(rooms: RoomSummary[], online: Online): void {
  state.directory = new Map(rooms.map((room) => [room.name, room.members]));
  state.online = { total: online.total, users: new Map(online.users.map((user) => [user.id, user])) };
}

function setMe(user: User): void {
  state.me = user;
  ui.meName.textContent = user.name;
  ui.meAvatar.replaceWith(Object.assign(avatar(user), { id: "me-avatar" }));
  ui.meAvatar = byId("me-avatar");
}

// ---- rooms ---------------------------------------------------------------------------------------------

/** Joins `room` on the server (again, after a reconnection) and merges what it answers. */
async function enterRoom(room: string): Promise<RoomView> {
  state.joining.set(room, []);
  let joined: Joined;
  let early: PresenceDelta[];
  try {
    joined = await client.emitWithAck("join", room);
  } finally {
    early = state.joining.get(room) ?? [];
    state.joining.delete(room);
  }
  let view = state.rooms.get(joined.room);
  if (view === undefined) {
    view = {
      name: joined.room,
      members: new Map(),
      version: 0,
      log: h("div", { class: "messages", attrs: { role: "log", "aria-label": `Messages in #${joined.room}`, "data-room": joined.room } }),
      seen: new Set(),
      unread: 0,
      last: null,
      typing: new Map(),
    };
    view.log.hidden = true;
    view.log.append(h("p", { class: "start" }, h("strong", {}, `#${joined.room}`), ` starts here. Say hello!`));
    ui.log.append(view.log);
    state.rooms.set(joined.room, view);
  }
  // A snapshot, then the deltas that came after it (those older than it are skipped).
  view.members.clear();
  for (const user of joined.members) view.members.set(user.id, user);
  view.version = joined.version;
  for (const delta of early) applyPresence(view, delta);
  for (const message of joined.history) appendMessage(view, message, false);
  renderSidebar();
  return view;
}

function showRoom(room: string): void {
  const view = state.rooms.get(room);
  state.current = view === undefined ? null : room;
  for (const other of state.rooms.values()) other.log.hidden = other !== view;
  if (view !== undefined) {
    view.unread = 0;
    ui.roomTitle.textContent = `#${room}`;
    ui.textInput.placeholder = `Message #${room}`;
    scrollToEnd(view, true);
  } else {
    ui.roomTitle.textContent = "No room";
    ui.textInput.placeholder = "Join a room to write";
  }
  ui.leaveButton.hidden = view === undefined;
  ui.textInput.disabled = view === undefined;
  renderTyping();
  renderSidebar();
  closeMenu();
}

ui.roomForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const checked = checkRoom(ui.roomInput.value);
  if (!checked.ok) {
    ui.roomError.textContent = checked.reason;
    return;
  }
  ui.roomError.textContent = "";
  void openRoom(checked.value).then(() => (ui.roomInput.value = ""));
});

async function openRoom(room: string): Promise<void> {
  if (!state.rooms.has(room)) {
    try {
      await enterRoom(room);
    } catch (error) {
      ui.roomError.textContent = messageOf(error);
      return;
    }
  }
  showRoom(room);
}

ui.leaveButton.addEventListener("click", () => {
  const room = state.current;
  if (room === null) return;
  void client.emitWithAck("leave", room).then(
    () => {
      state.rooms.get(room)?.log.remove();
      state.rooms.delete(room);
      const next = state.rooms.keys().next();
      showRoom(next.done ? "" : next.value);
    },
    (error: unknown) => showBanner(messageOf(error), "error", 4_000),
  );
});

// ---- messages --------------------------------------------------------------------------------------------

client.on("message", (message) => {
  const view = state.rooms.get(message.room);
  if (view === undefined) return;
  stopTyping(view, message.from.id);
  appendMessage(view, message, true);
  if (message.room !== state.current && message.from.id !== state.me?.id) {
    view.unread++;
    renderSidebar();
  }
});

client.on("notice", (notice) => {
  const view = state.rooms.get(notice.room);
  if (view === undefined) return;
  if (notice.kind === "left") stopTyping(view, notice.user.id);
  appendNotice(view, notice);
});

// Presence arrives as deltas (who joined, who left), applied to the snapshots of the welcome and the
// join answers: a change costs the server and this page its own size, not the size of the room.
client.on("presence", (delta) => {
  const early = state.joining.get(delta.room);
  if (early !== undefined) {
    early.push(delta);
    return;
  }
  const view = state.rooms.get(delta.room);
  if (view !== undefined) applyPresence(view, delta);
});

function applyPresence(view: RoomView, { version, joined, left }: PresenceDelta): void {
  if (version <= view.version) return;
  view.version = version;
  for (const id of left) view.members.delete(id);
  for (const user of joined) view.members.set(user.id, user);
  renderSoon();
}

client.on("online", (delta) => {
  if (state.greeting !== null) state.greeting.push(() => applyOnline(delta));
  else applyOnline(delta);
});

function applyOnline({ total, joined, left }: OnlineDelta): void {
  state.online.total = total;
  for (const id of left) state.online.users.delete(id);
  // The total is exact; the list is what fits (the welcome's, then newcomers while there is room).
  for (const user of joined) if (state.online.users.size < ONLINE_KEPT || state.online.users.has(user.id)) state.online.users.set(user.id, user);
  renderSoon();
}

client.on("rooms", (changed) => {
  if (state.greeting !== null) state.greeting.push(() => applyRooms(changed));
  else applyRooms(changed);
});

function applyRooms(changed: RoomSummary[]): void {
  for (const { name, members } of changed) {
    if (members > 0) state.directory.set(name, members);
    else state.directory.delete(name);
  }
  renderSoon();
}

client.on("limited", ({ event, retryIn }) => {
  const what = event === "send" ? "messages" : event === "typing" ? "typing notices" : event === "hello" ? "attempts" : `${event}s`;
  showBanner(`Too many ${what} at once: some were dropped. Try again in ${Math.max(1, Math.ceil(retryIn / 1_000))} s.`, "warning", 4_000);
});

function appendMessage(view: RoomView, message: ChatMessage, live: boolean): void {
  if (view.seen.has(message.id)) return;
  view.seen.add(message.id);
  const stick = isAtEnd(view);
  const mine = message.from.id === state.me?.id;
  const grouped = view.last !== null && view.last.author === message.from.id && message.at - view.last.at < GROUP_WITHIN;
  const text = h("p", { class: "text" }, message.text);
  const entry = grouped
    ? h("article", { class: `message grouped${mine ? " mine" : ""}`, attrs: { "data-id": message.id } }, h("div", { class: "body" }, text))
    : h(
        "article",
        { class: `message${mine ? " mine" : ""}`, attrs: { "data-id": message.id } },
        avatar(message.from),
        h(
          "div",
          { class: "body" },
          h(
            "header",
            {},
            h("strong", { class: "author" }, message.from.name),
            mine ? h("span", { class: "tag" }, "you") : null,
            h("time", { attrs: { datetime: new Date(message.at).toISOString() } }, timeOf(message.at)),
          ),
          text,
        ),
      );
  view.log.append(entry);
  view.last = { author: message.from.id, at: message.at };
  if (live || stick) scrollToEnd(view, stick || mine);
}

function appendNotice(view: RoomView, notice: Notice): void {
  const stick = isAtEnd(view);
  const verb = notice.kind === "joined" ? "joined" : "left";
  view.log.append(
    h("p", { class: `notice ${notice.kind}` }, h("strong", {}, notice.user.name), ` ${verb} #${notice.room}`, h("time", {}, timeOf(notice.at))),
  );
  view.last = null;
  scrollToEnd(view, stick);
}

function isAtEnd(view: RoomView): boolean {
  return view.log.scrollHeight - view.log.scrollTop - view.log.clientHeight < 80;
}

function scrollToEnd(view: RoomView, really: boolean): void {
  if (really) view.log.scrollTop = view.log.scrollHeight;
}

// ---- writing -------------------------------------------------------------------------------------------

ui.composer.addEventListener("submit", (event) => {
  event.preventDefault();
  submitText();
});

ui.textInput.addEventListener("keydown", (event) => {
  // Enter sends, Shift+Enter starts a new line (and IME composition is left alone).
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    submitText();
  }
});

ui.textInput.addEventListener("input", () => {
  autoGrow();
  ui.composerError.textContent = "";
  const now = Date.now();
  if (state.ready && state.current !== null && ui.textInput.value.trim() !== "" && now - state.lastTypingSent > LIMITS.typingEvery) {
    state.lastTypingSent = now;
    client.emit("typing", state.current);
  }
});

function autoGrow(): void {
  ui.textInput.style.height = "auto";
  ui.textInput.style.height = `${Math.min(ui.textInput.scrollHeight, 160)}px`;
}

function submitText(): void {
  const room = state.current;
  if (room === null) return;
  const checked = checkText(ui.textInput.value);
  if (!checked.ok) {
    if (ui.textInput.value.trim() !== "") ui.composerError.textContent = checked.reason;
    return;
  }
  ui.textInput.value = "";
  autoGrow();
  state.lastTypingSent = 0;
  if (!state.ready) {
    const view = state.rooms.get(room)!;
    const element = pendingEntry(view, checked.value);
    view.log.append(element);
    // What follows starts a new group: the next message is not shown under the author before this one.
    view.last = null;
    scrollToEnd(view, true);
    state.outbox.push({ room, text: checked.value, element });
    return;
  }
  void send(room, checked.value);
}

/**
 * A message written while offline, shown as this person's until it is sent: with their name and avatar,
 * unless it follows another waiting one.
 */
function pendingEntry(view: RoomView, text: string): HTMLElement {
  const body = [h("p", { class: "text" }, text), h("small", {}, "Waiting for the connection…")];
  const me = state.me;
  if (me === null || view.log.lastElementChild?.classList.contains("pending")) {
    return h("article", { class: "message pending grouped mine" }, h("div", { class: "body" }, ...body));
  }
  return h(
    "article",
    { class: "message pending mine" },
    avatar(me),
    h("div", { class: "body" }, h("header", {}, h("strong", { class: "author" }, me.name), h("span", { class: "tag" }, "you")), ...body),
  );
}

async function send(room: string, text: string): Promise<boolean> {
  try {
    await client.emitWithAck("send", { room, text });
    return true;
  } catch (error) {
    ui.composerError.textContent = `Not sent: ${messageOf(error)}`;
    if (ui.textInput.value === "") ui.textInput.value = text;
    return false;
  }
}

async function flushOutbox(): Promise<void> {
  const waiting = state.outbox.splice(0);
  for (const { room, text, element } of waiting) {
    element.remove();
    if (state.rooms.has(room)) await send(room, text);
  }
}

// ---- who is typing ---------------------------------------------------------------------------------------

client.on("typing", ({ room, user }) => {
  const view = state.rooms.get(room);
  if (view === undefined || user.id === state.me?.id) return;
  const previous = view.typing.get(user.id);
  if (previous !== undefined) clearTimeout(previous.timer);
  view.typing.set(user.id, { name: user.name, timer: setTimeout(() => stopTyping(view, user.id), TYPING_SHOWN) });
  renderTyping();
});

function stopTyping(view: RoomView, id: string): void {
  const entry = view.typing.get(id);
  if (entry === undefined) return;
  clearTimeout(entry.timer);
  view.typing.delete(id);
  renderTyping();
}

function renderTyping(): void {
  const view = state.current === null ? undefined : state.rooms.get(state.current);
  const names = view === undefined ? [] : [...view.typing.values()].map((entry) => entry.name);
  ui.typing.textContent =
    names.length === 0
      ? ""
      : names.length === 1
        ? `${names[0]} is typing…`
        : names.length === 2
          ? `${names[0]} and ${names[1]} are typing…`
          : "Several people are typing…";
}

// ---- sidebar ---------------------------------------------------------------------------------------------

let renderScheduled = false;

/** Renders the sidebar once for a burst of deltas (a timer, not an animation frame: those stop in background tabs). */
function renderSoon(): void {
  if (renderScheduled) return;
  renderScheduled = true;
  setTimeout(() => {
    renderScheduled = false;
    renderSidebar();
  }, 30);
}

function renderSidebar(): void {
  const counts = state.directory;
  const names = [...new Set([...state.rooms.keys(), ...counts.keys()])];
  // Rooms one is in first, then the busiest.
  names.sort((a, b) => Number(state.rooms.has(b)) - Number(state.rooms.has(a)) || (counts.get(b) ?? 0) - (counts.get(a) ?? 0) || a.localeCompare(b));
  fill(
    ui.roomList,
    names.slice(0, state.rooms.size + LIMITS.roomsListed).map((name) => {
      const view = state.rooms.get(name);
      const members = view?.members.size ?? counts.get(name) ?? 0;
      const button = h(
        "button",
        { class: "room", attrs: { type: "button", "data-room": name, ...(name === state.current ? { "aria-current": "true" } : {}) } },
        h("span", { class: "hash" }, "#"),
        h("span", { class: "room-name" }, name),
        view !== undefined && view.unread > 0 ? h("span", { class: "badge", attrs: { "aria-label": `${view.unread} unread` } }, String(view.unread)) : null,
        h("span", { class: "count", attrs: { title: `${members} here` } }, String(members)),
      );
      if (view === undefined) button.classList.add("not-joined");
      button.addEventListener("click", () => void openRoom(name));
      return h("li", {}, button);
    }),
  );

  const view = state.current === null ? undefined : state.rooms.get(state.current);
  const members = view === undefined ? [] : [...view.members.values()].sort(byName);
  ui.membersRoom.textContent = view === undefined ? "no room" : `#${view.name}`;
  ui.membersCount.textContent = String(members.length);
  ui.roomSubtitle.textContent = view === undefined ? "" : members.length === 1 ? "just you" : `${members.length} people`;
  fill(ui.memberList, members.map((user) => person(user)));

  ui.onlineCount.textContent = String(state.online.total);
  const listed = [...state.online.users.values()].sort(byName).slice(0, LIMITS.onlineListed);
  const more = state.online.total - listed.length;
  fill(ui.onlineList, [...listed.map((user) => person(user)), ...(more > 0 ? [h("li", { class: "more" }, `and ${more} more`)] : [])]);
}

function byName(a: User, b: User): number {
  return NAMES.compare(a.name, b.name) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function person(user: User): HTMLLIElement {
  const me = user.id === state.me?.id;
  return h("li", { class: me ? "person self" : "person", attrs: { "data-user": user.id } }, avatar(user, "small"), h("span", {}, user.name), me ? h("span", { class: "tag" }, "you") : null);
}

// ---- small things ------------------------------------------------------------------------------------------

let bannerTimer: ReturnType<typeof setTimeout> | undefined;

function showBanner(text: string, tone: "ok" | "warning" | "error", hideAfter?: number): void {
  clearTimeout(bannerTimer);
  ui.banner.textContent = text;
  ui.banner.dataset.tone = tone;
  ui.banner.hidden = false;
  if (hideAfter !== undefined) bannerTimer = setTimeout(() => (ui.banner.hidden = true), hideAfter);
}

function messageOf(error: unknown): string {
  if (error instanceof RemoteError) return error.message;
  if (error instanceof AckError) return "the connection was lost; please try again.";
  return error instanceof Error ? error.message : String(error);
}

function openMenu(): void {
  ui.sidebar.classList.add("open");
  ui.scrim.hidden = false;
  ui.menuButton.setAttribute("aria-expanded", "true");
}

function closeMenu(): void {
  ui.sidebar.classList.remove("open");
  ui.scrim.hidden = true;
  ui.menuButton.setAttribute("aria-expanded", "false");
}

ui.menuButton.addEventListener("click", () => (ui.sidebar.classList.contains("open") ? closeMenu() : openMenu()));
ui.scrim.addEventListener("click", closeMenu);
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") closeMenu();
});
