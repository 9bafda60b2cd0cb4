/**
 * Writes the browser builds of the client to dist/client/ and prints their sizes (minified, and gzip level 9).
 * Usage: npm run build:client
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { buildClientBundle, CLIENT_BUNDLE_FILES, type ClientBundleFormat } from "../client/bundle.js";

const outDir = fileURLToPath(new URL("../dist/client/", import.meta.url));
mkdirSync(outDir, { recursive: true });
for (const format of Object.keys(CLIENT_BUNDLE_FILES) as ClientBundleFormat[]) {
  const code = buildClientBundle(format);
  const file = outDir + CLIENT_BUNDLE_FILES[format];
  writeFileSync(file, code);
  const bytes = Buffer.byteLength(code);
  const gzipped = gzipSync(code, { level: 9 }).length;
  console.log(`${format.padEnd(4)} ${file}: ${bytes} B minified, ${gzipped} B min+gzip (level 9)`);
}
