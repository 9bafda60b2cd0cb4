/**
 * The browser build of the client, for the server adapters to serve at a route of the user's choice
 * (`application/javascript`, an ETag, revalidating cache headers). Node only: never part of the browser build.
 *
 * Where the code comes from:
 * - compiled package (`dist/client/bundle.js`): the prebuilt file beside it, written by `npm run build:client`;
 * - source tree (`client/bundle.ts` under tsx or vitest): built on demand from `client/index.ts` with esbuild
 *   (a devDependency), so it always matches the source.
 * Nothing prebuilt is committed: a committed bundle could silently fall behind the source.
 * @module
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

/** `esm`: one ES module exporting `connect` and the error classes. `iife`: a classic script defining `wsmount`. */
export type ClientBundleFormat = "esm" | "iife";

/** A ready-to-serve browser build. */
export interface ClientBundle {
  /** The minified, self-contained JavaScript. */
  code: string;
  /** A strong ETag (quoted) derived from the code. */
  etag: string;
  /** `application/javascript; charset=utf-8`. */
  contentType: string;
  /** Suggested `Cache-Control`: `no-cache`, i.e. revalidate with the ETag (the route has no content hash). */
  cacheControl: string;
}

/** File names of the prebuilt bundles in `dist/client/`. */
export const CLIENT_BUNDLE_FILES: Readonly<Record<ClientBundleFormat, string>> = Object.freeze({
  esm: "wsmount-client.min.js",
  iife: "wsmount-client.iife.min.js",
});

/** The global the `iife` bundle defines (see client/global.ts). */
export const CLIENT_BUNDLE_GLOBAL = "wsmount";

const cache = new Map<ClientBundleFormat, ClientBundle>();

function checkFormat(format: unknown): asserts format is ClientBundleFormat {
  if (format !== "esm" && format !== "iife") throw new TypeError('format must be "esm" or "iife"');
}

/**
 * Builds the browser bundle from the TypeScript source with esbuild (minified, ES2022, no source map):
 * `esm` from client/index.ts, `iife` from client/global.ts.
 * Needs the source tree and the esbuild devDependency; used by `npm run build:client` and by
 * {@link clientBundle} when running from source.
 */
export function buildClientBundle(format: ClientBundleFormat = "esm"): string {
  checkFormat(format);
  const require = createRequire(import.meta.url);
  const esbuild = require("esbuild") as typeof import("esbuild");
  const result = esbuild.buildSync({
    entryPoints: [fileURLToPath(new URL(format === "esm" ? "./index.ts" : "./global.ts", import.meta.url))],
    bundle: true,
    minify: true,
    format,
    platform: "browser",
    target: "es2022",
    legalComments: "none",
    write: false,
  });
  return result.outputFiles[0]!.text;
}

/**
 * The browser build, ready to serve: read once from the prebuilt file (compiled package) or built once from
 * source (source tree), then cached for the life of the process.
 * @param format - `"esm"` (default) or `"iife"`.
 * @throws Error when the compiled package lacks the prebuilt file (run `npm run build:client`).
 */
export function clientBundle(format: ClientBundleFormat = "esm"): ClientBundle {
  checkFormat(format);
  let bundle = cache.get(format);
  if (bundle) return bundle;
  let code: string;
  if (import.meta.url.endsWith(".ts")) {
    code = buildClientBundle(format);
  } else {
    const file = fileURLToPath(new URL(`./${CLIENT_BUNDLE_FILES[format]}`, import.meta.url));
    try {
      code = readFileSync(file, "utf8");
    } catch (cause) {
      throw new Error(`wsmount: the client bundle ${file} is missing; run "npm run build:client"`, { cause });
    }
  }
  const hash = createHash("sha256").update(code).digest("base64url").slice(0, 27);
  bundle = Object.freeze({
    code,
    etag: `"${hash}"`,
    contentType: "application/javascript; charset=utf-8",
    cacheControl: "no-cache",
  });
  cache.set(format, bundle);
  return bundle;
}
