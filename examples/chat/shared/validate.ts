/**
 * Cleaning and validation of names, room names and messages. The server is the authority (it runs these on
 * everything it receives); the page runs the same code to answer at once.
 * @module
 */
import { CONFUSABLE_PAIRS, CONFUSABLES } from "./confusables.js";
import { LIMITS } from "./events.js";

/** A cleaned value, or why the input was refused. */
export type Checked = { ok: true; value: string } | { ok: false; reason: string };

// Control characters (tabs and line breaks included: a name is one line).
const CONTROL = /\p{Cc}/u;
// Bidirectional formatting characters, which can make text display differently from what it is (Unicode
// TR 9; the "Trojan Source" class of spoofing): removed from messages.
const BIDI = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/u;
const BIDI_ALL = new RegExp(BIDI.source, "gu");
// Invisible characters (Unicode's Default_Ignorable_Code_Point: zero-width spaces and joiners, the soft
// hyphen, word joiners, the bidirectional controls, variation selectors, Hangul fillers, tags...), except
// where an emoji needs them: a zero-width joiner between two pictographs (👩‍💻) and a variation selector
// after an emoji (❤️). The bidirectional controls are among them: a name cannot reorder what follows it
// ("Trojan Source", Unicode TR 9).
const INVISIBLE =
  /(\p{Extended_Pictographic}[\u{1F3FB}-\u{1F3FF}\uFE0F]?)\u200D(?=\p{Extended_Pictographic})|(\p{Emoji})([\uFE0E\uFE0F])|\p{Default_Ignorable_Code_Point}/gu;
// Characters that show as blank but are not white space for `\s`.
const BLANK = /[\u2800\u3164\uFFA0\u115F\u1160]/gu;
const MARKS = /\p{M}/gu;
const STACKED_MARKS = /\p{M}{4}/u;
const ALL_INVISIBLE = /\p{Default_Ignorable_Code_Point}/gu;

/** The length in code points, so an emoji counts as one character, not two. */
export function length(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

/** Removes invisible characters, keeping the joiners and selectors that emoji sequences need. */
function withoutInvisible(text: string): string {
  return text.replace(INVISIBLE, (_match, joined?: string, emoji?: string, selector?: string) =>
    joined !== undefined ? `${joined}\u200D` : emoji !== undefined ? emoji + selector! : "",
  );
}

/**
 * A person's name: NFKC (fullwidth, ligatures and styled letters become plain ones), invisible and
 * bidirectional characters removed, white space trimmed and collapsed; 1 to 24 characters, one line, no
 * control characters, no letter carrying more than three accents. What is kept is what everyone sees.
 */
export function checkName(input: unknown): Checked {
  if (typeof input !== "string") return { ok: false, reason: "A name is text." };
  // NFKC can make a string up to 18 times longer: bound the work before it.
  if (input.length > LIMITS.name * 8) return { ok: false, reason: `A name has at most ${LIMITS.name} characters.` };
  const raw = input.normalize("NFKC");
  if (CONTROL.test(raw)) return { ok: false, reason: "A name cannot contain control characters." };
  const value = withoutInvisible(raw).replace(BLANK, " ").trim().replace(/\s+/gu, " ");
  if (value.replace(MARKS, "").length === 0) return { ok: false, reason: "Please type a name." };
  if (STACKED_MARKS.test(value)) return { ok: false, reason: "Too many accents on one letter." };
  if (length(value) > LIMITS.name) return { ok: false, reason: `A name has at most ${LIMITS.name} characters.` };
  return { ok: true, value };
}

/**
 * What two names are compared by: a "skeleton" in the manner of Unicode's UTS #39. NFKC, look-alikes
 * mapped to the Latin letter they pass for (a small built-in map, see confusables.ts), lower case, accents
 * and invisible characters dropped, blanks collapsed. "Alice", "ALICE", "Аlice" (Cyrillic А), "Al\u200Bice"
 * and "Álice" have one key, so only one of them can be online under that name. The key errs towards
 * merging ("Ali" and "All" share one); the price is a suffix on a name, never a spoof.
 */
export function nameKey(name: string): string {
  let key = confuse(name.normalize("NFKC"));
  key = confuse(key.toLowerCase().normalize("NFD").replace(MARKS, "").replace(ALL_INVISIBLE, ""));
  for (const [pair, letter] of CONFUSABLE_PAIRS) key = key.replace(pair, letter);
  return key.replace(BLANK, " ").trim().replace(/\s+/gu, " ");
}

function confuse(text: string): string {
  let out = "";
  for (const char of text) out += CONFUSABLES.get(char) ?? char;
  return out;
}

/** `name` with the suffix " n", shortened to stay within the length limit: "Ann 2", "Ann 3"... */
export function suffixed(name: string, n: number): string {
  const suffix = ` ${n}`;
  return [...name].slice(0, LIMITS.name - suffix.length).join("").trimEnd() + suffix;
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
