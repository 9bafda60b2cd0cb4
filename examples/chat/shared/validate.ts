/**
 * Cleaning and validation of names, room names and messages. The server is the authority (it runs these on
 * everything it receives); the page runs the same code to answer at once.
 * @module
 */
import { LIMITS } from "./events.js";

/** A cleaned value, or why the input was refused. */
export type Checked = { ok: true; value: string } | { ok: false; reason: string };

// Control characters, and the bidirectional formatting characters that can make a name or a message
// display differently from what it is (Unicode TR 9; the "Trojan Source" class of spoofing).
const CONTROL = /\p{Cc}/u;
const BIDI = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/u;
const BIDI_ALL = new RegExp(BIDI.source, "gu");
const INVISIBLE_ONLY = /^[\p{Z}\p{Cf}\p{M}]*$/u;

/** The length in code points, so an emoji counts as one character, not two. */
export function length(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

/**
 * A person's name: trimmed, inner spaces collapsed, NFC; 1 to 24 characters; no control or bidirectional
 * characters, not made of invisible characters only.
 */
export function checkName(input: unknown): Checked {
  if (typeof input !== "string") return { ok: false, reason: "A name is text." };
  const raw = input.normalize("NFC");
  if (CONTROL.test(raw) || BIDI.test(raw)) return { ok: false, reason: "A name cannot contain control characters." };
  const value = raw.trim().replace(/\s+/gu, " ");
  if (value.length === 0 || INVISIBLE_ONLY.test(value)) return { ok: false, reason: "Please type a name." };
  if (length(value) > LIMITS.name) return { ok: false, reason: `A name has at most ${LIMITS.name} characters.` };
  return { ok: true, value };
}

/** A room name: lower case letters, digits and dashes, 1 to 24 characters; a leading `#` and spaces are forgiven. */
export function checkRoom(input: unknown): Checked {
  if (typeof input !== "string") return { ok: false, reason: "A room name is text." };
  const value = input.trim().replace(/^#/, "").trim().toLowerCase().replace(/\s+/g, "-");
  if (value.length === 0) return { ok: false, reason: "Please type a room name." };
  if (value.length > LIMITS.room) return { ok: false, reason: `A room name has at most ${LIMITS.room} characters.` };
  if (!/^[a-z0-9][a-z0-9-]*$/.test(value)) return { ok: false, reason: "Room names use letters a-z, digits and dashes." };
  return { ok: true, value };
}

/**
 * A message: line breaks normalized, bidirectional and other control characters (but newlines and tabs)
 * removed, trimmed; 1 to 500 characters on at most 12 lines.
 */
export function checkText(input: unknown): Checked {
  if (typeof input !== "string") return { ok: false, reason: "A message is text." };
  const value = input
    .normalize("NFC")
    .replace(/\r\n?/g, "\n")
    .replace(BIDI_ALL, "")
    .replace(/[^\P{Cc}\n\t]/gu, "")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
  if (value.length === 0) return { ok: false, reason: "The message is empty." };
  if (length(value) > LIMITS.text) return { ok: false, reason: `A message has at most ${LIMITS.text} characters.` };
  if (value.split("\n").length > LIMITS.lines) return { ok: false, reason: `A message has at most ${LIMITS.lines} lines.` };
  return { ok: true, value };
}

/** The name to give `name` when `taken(candidate)` says it is in use: "Ann", then "Ann 2", "Ann 3"... */
export function uniqueName(name: string, taken: (candidate: string) => boolean): string {
  if (!taken(name)) return name;
  for (let n = 2; n < 10_000; n++) {
    const suffix = ` ${n}`;
    const base = [...name].slice(0, LIMITS.name - suffix.length).join("").trimEnd();
    const candidate = base + suffix;
    if (!taken(candidate)) return candidate;
  }
  throw new Error("no free name");
}
