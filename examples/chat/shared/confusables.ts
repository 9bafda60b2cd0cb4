/**
 * A small confusables map: characters that look like a Latin letter or digit in common fonts, mapped to it.
 * It covers what impersonates an ASCII name in practice, Cyrillic and Greek look-alikes of Latin letters
 * and a few Latin and digit pairs (`I`/`l`/`1`, `0`/`O`), and is not Unicode's full confusables list
 * (UTS #39, about 6,000 entries for every script). A chat that must tell apart names in other scripts, or
 * resist look-alikes beyond these, should compare with a UTS #39 skeleton from a maintained table.
 *
 * Used only to compare names (see `nameKey` in validate.ts); names are shown as typed.
 * @module
 */

/** Look-alike -> the Latin character it passes for. Applied before and after lower-casing. */
export const CONFUSABLES: ReadonlyMap<string, string> = new Map(
  Object.entries({
    // Cyrillic capitals
    "\u0410": "A", "\u0412": "B", "\u0415": "E", "\u041A": "K", "\u041C": "M", "\u041D": "H", "\u041E": "O",
    "\u0420": "P", "\u0421": "C", "\u0422": "T", "\u0423": "Y", "\u0425": "X", "\u0405": "S", "\u0406": "l",
    "\u0408": "J", "\u04AE": "Y", "\u04C0": "l", "\u051A": "Q", "\u051C": "W",
    // Cyrillic small letters
    "\u0430": "a", "\u0435": "e", "\u043E": "o", "\u0440": "p", "\u0441": "c", "\u0443": "y", "\u0445": "x",
    "\u0455": "s", "\u0456": "l", "\u0458": "j", "\u04BB": "h", "\u0501": "d", "\u051B": "q", "\u051D": "w",
    "\u04AF": "y", "\u04CF": "l", "\u0475": "v",
    // Greek capitals
    "\u0391": "A", "\u0392": "B", "\u0395": "E", "\u0396": "Z", "\u0397": "H", "\u0399": "l", "\u039A": "K",
    "\u039C": "M", "\u039D": "N", "\u039F": "O", "\u03A1": "P", "\u03A4": "T", "\u03A5": "Y", "\u03A7": "X",
    // Greek small letters
    "\u03B1": "a", "\u03B9": "l", "\u03BA": "k", "\u03BD": "v", "\u03BF": "o", "\u03C1": "p", "\u03C5": "u",
    "\u03C7": "x", "\u03F2": "c", "\u03F3": "j",
    // Latin and digits that pass for one another: capital I, small l, digit 1, dotless i; 0 and O
    I: "l", i: "l", "1": "l", "|": "l", "\u0131": "l", "\u0269": "l", "0": "o",
    "\u0251": "a", "\u0261": "g",
  }),
);

/** Letter pairs that pass for one letter, after the single characters are mapped. */
export const CONFUSABLE_PAIRS: ReadonlyArray<readonly [RegExp, string]> = [
  [/rn/g, "m"],
  [/vv/g, "w"],
];
