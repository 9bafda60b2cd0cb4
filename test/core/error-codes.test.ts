import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
import { ErrorCode } from "../../core/errors.js";
import { AckErrorCode, WireErrorCode } from "../../core/protocol/constants.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const table = readFileSync(join(root, "docs/errors.md"), "utf8");
/** The codes in the first column of docs/errors.md's table. */
const documented = new Set([...table.matchAll(/^\| `(ERR_WSMOUNT_[A-Z_]+)` \|/gm)].map((match) => match[1]!));

/** Every `ERR_WSMOUNT_*` literal in the library's sources (not tests, not examples). */
function codesInSources(): Set<string> {
  const codes = new Set<string>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".ts")) {
        for (const match of readFileSync(join(root, path), "utf8").matchAll(/ERR_WSMOUNT_[A-Z_]*[A-Z]/g)) codes.add(match[0]);
      }
    }
  };
  for (const dir of ["core", "adapters", "client", "testing"]) walk(dir);
  return codes;
}

describe("docs/errors.md", () => {
  test.each([
    ["ErrorCode", ErrorCode],
    ["WireErrorCode", WireErrorCode],
    ["AckErrorCode", AckErrorCode],
  ] as const)("has a row for every code of %s", (_name, codes) => {
    const missing = Object.values(codes).filter((code) => !documented.has(code));
    expect(missing, "add these codes to the table in docs/errors.md").toEqual([]);
  });

  test("has a row for every ERR_WSMOUNT_* code written in the library's sources", () => {
    const missing = [...codesInSources()].filter((code) => !documented.has(code)).sort();
    expect(missing, "add these codes to the table in docs/errors.md").toEqual([]);
  });

  test("documents no code that no longer exists", () => {
    const known = codesInSources();
    const stale = [...documented].filter((code) => !known.has(code));
    expect(stale, "remove these rows from docs/errors.md").toEqual([]);
  });
});
