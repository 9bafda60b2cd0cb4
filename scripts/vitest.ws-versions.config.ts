/**
 * The project's vitest configuration with `ws` taken from `$WSMOUNT_WS_DIR` (a ws package installed
 * elsewhere), for scripts/test-ws-versions.sh: wsmount and the tests' clients both import that copy.
 */
import { fileURLToPath } from "node:url";
import { defineConfig, mergeConfig } from "vitest/config";
import base from "../vitest.config.js";

const dir = process.env.WSMOUNT_WS_DIR;
if (dir === undefined) throw new Error("WSMOUNT_WS_DIR must name the directory of the ws package to test with");

export default mergeConfig(
  base,
  defineConfig({
    root: fileURLToPath(new URL("..", import.meta.url)),
    resolve: { alias: [{ find: /^ws$/, replacement: dir }] },
  }),
);
