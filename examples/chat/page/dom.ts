/**
 * Small DOM helpers for the chat page. User text only ever becomes a text node (`textContent`), never
 * markup: nothing a person types can turn into HTML.
 * @module
 */
import type { User } from "../shared/events.js";

type Child = Node | string | null | undefined | false;

/** The element with this id; throws when the page lacks it (a broken page should fail loudly). */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`#${id} is missing from the page`);
  return element as T;
}

/** Creates an element with classes, attributes and children; strings become text nodes. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: { class?: string; attrs?: Record<string, string> } = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (props.class) element.className = props.class;
  for (const [name, value] of Object.entries(props.attrs ?? {})) element.setAttribute(name, value);
  for (const child of children) if (child !== null && child !== undefined && child !== false) element.append(child);
  return element;
}

/** Avatar hues, picked to be told apart and to carry white initials well. */
const HUES = [4, 24, 145, 170, 195, 215, 245, 270, 295, 325, 340, 85];

/** A stable hue for a person, from their name, so their colour stays the same across reconnections. */
export function hueOf(name: string): number {
  // FNV-1a, then a finalizer (MurmurHash3's) so that short names spread over the palette.
  let hash = 2166136261;
  for (const char of name.toLowerCase()) hash = Math.imul(hash ^ char.codePointAt(0)!, 16777619);
  hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b);
  hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35);
  return HUES[((hash ^ (hash >>> 16)) >>> 0) % HUES.length]!;
}

/** Up to two initials (first letters of the first two words), as whole characters. */
export function initials(name: string): string {
  const words = name.split(" ").filter((word) => word.length > 0);
  const letters = words.slice(0, 2).map((word) => [...word][0] ?? "");
  return letters.join("").toUpperCase() || "?";
}

/** A round avatar with the person's initials in their colour. */
export function avatar(user: User, size: "small" | "normal" = "normal"): HTMLSpanElement {
  const element = h("span", { class: size === "small" ? "avatar small" : "avatar", attrs: { "aria-hidden": "true" } }, initials(user.name));
  // CSSOM, not a style attribute: the page's Content-Security-Policy allows no inline styles.
  element.style.setProperty("--hue", String(hueOf(user.name)));
  return element;
}

/** "14:05" in the reader's locale. */
export function timeOf(at: number): string {
  return new Date(at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/** Replaces the children of `parent`. */
export function fill(parent: HTMLElement, children: Node[]): void {
  parent.replaceChildren(...children);
}
