/**
 * Headless Chromium for the browser tests: Debian's `chromium` package driven by playwright-core, which
 * never downloads a browser. Flags keep Chromium off the network (on a closed network its background
 * services' connections are refused and slow it down) and give it a fresh profile.
 */
import { accessSync, constants } from "node:fs";
import { chromium, type Browser } from "playwright-core";

/** Where Chromium is looked for: $CHROMIUM_PATH when set (and only there), else Debian's usual paths. */
export const CHROMIUM_CANDIDATES = process.env.CHROMIUM_PATH ? [process.env.CHROMIUM_PATH] : ["/usr/bin/chromium", "/usr/bin/chromium-browser"];

/** Flags for a quiet, offline, headless Chromium. */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** The first executable Chromium found, or undefined. */
export function findChromium(): string | undefined {
  for (const path of CHROMIUM_CANDIDATES) {
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not there: try the next one
    }
  }
  return undefined;
}

/**
 * The Chromium to test with. Without one, a test file skips with a visible notice, except under CI
 * (`CI=true`, as .ci/run sets it, after installing chromium with apt), where a missing browser is an error.
 */
export function chromiumOrSkip(): string | undefined {
  const executable = findChromium();
  if (executable !== undefined) return executable;
  const message = `no Chromium found (looked at ${CHROMIUM_CANDIDATES.join(", ")}); install Debian's chromium package or set CHROMIUM_PATH`;
  if (process.env.CI === "true") throw new Error(`browser tests cannot run under CI: ${message}`);
  console.warn(`\n  !! SKIPPED: the real-browser tests in test/browser: ${message}\n`);
  return undefined;
}

/**
 * Launches headless Chromium. Playwright gives it a fresh `--user-data-dir` (a new temporary profile,
 * removed on close), so no state leaks between runs; each `browser.newContext()` is a separate person.
 */
export function launchChromium(executablePath: string): Promise<Browser> {
  return chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS, timeout: 20_000 });
}
