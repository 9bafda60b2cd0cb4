import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { runInNewContext } from "node:vm";
import { gzipSync } from "node:zlib";
import { transformSync } from "esbuild";
import { afterAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { buildClientBundle, CLIENT_BUNDLE_FILES, clientBundle } from "../../client/bundle.js";
import { startTestServer } from "./test-server.js";

const OUT = new URL("../../test-output/client-bundle/", import.meta.url);
afterAll(() => rmSync(OUT, { recursive: true, force: true }));

const RUNTIME_EXPORTS = ["AckError", "AckErrorCode", "ProtocolError", "RemoteError", "WireErrorCode", "WsmountClient", "connect"];

describe("browser build", () => {
  it("stays under 4 KB minified and gzipped (level 9), in both formats", () => {
    for (const format of ["esm", "iife"] as const) {
      const code = buildClientBundle(format);
      expect(gzipSync(code, { level: 9 }).length, format).toBeLessThan(4096);
    }
  });

  it("is self-contained: no imports, no Node built-ins", () => {
    for (const format of ["esm", "iife"] as const) {
      const code = buildClientBundle(format);
      expect(code).not.toMatch(/\bimport\s*[("{*]|\brequire\(|node:/);
    }
  });

  it("the ES module build connects, emits and gets acknowledgements against a real server", async () => {
    const server = await startTestServer({ welcomeId: "bundle" });
    try {
      server.on("add", (data) => (data as number[]).reduce((a, b) => a + b, 0));
      mkdirSync(OUT, { recursive: true });
      const file = new URL("wsmount-client.min.mjs", OUT);
      writeFileSync(file, clientBundle("esm").code);
      const api = (await import(/* @vite-ignore */ file.href)) as typeof import("../../client/index.js");
      expect(Object.keys(api).sort()).toEqual(RUNTIME_EXPORTS);
      const client = api.connect(server.url, { WebSocket, reconnect: false, waitForWelcome: true });
      try {
        await expect(client.emitWithAck("add", [2, 3])).resolves.toBe(5);
        expect(client.id).toBe("bundle-1");
        await expect(client.emitWithAck("missing")).rejects.toBeInstanceOf(api.RemoteError);
      } finally {
        client.close();
      }
    } finally {
      await server.stop();
    }
  });

  it("the classic-script build defines the global wsmount", () => {
    const sandbox: { wsmount?: Record<string, unknown> } = {};
    runInNewContext(clientBundle("iife").code, sandbox);
    expect(Object.keys(sandbox.wsmount ?? {}).sort()).toEqual(RUNTIME_EXPORTS);
    expect(typeof sandbox.wsmount?.connect).toBe("function");
  });

  it("serves a cached bundle with a strong ETag derived from the code", () => {
    const bundle = clientBundle();
    expect(clientBundle("esm")).toBe(bundle);
    const hash = createHash("sha256").update(bundle.code).digest("base64url").slice(0, 27);
    expect(bundle.etag).toBe(`"${hash}"`);
    expect(bundle.contentType).toBe("application/javascript; charset=utf-8");
    expect(bundle.cacheControl).toBe("no-cache");
    expect(clientBundle("iife").etag).not.toBe(bundle.etag);
    expect(() => clientBundle("umd" as "esm")).toThrow(TypeError);
  });

  it("in the compiled package, reads the prebuilt file beside it, or says how to build it", async () => {
    // Stand-in for dist/client/bundle.js: the same module compiled to JavaScript, beside a prebuilt bundle.
    const dist = new URL("dist-sim/client/", OUT);
    mkdirSync(dist, { recursive: true });
    const source = readFileSync(new URL("../../client/bundle.ts", import.meta.url), "utf8");
    writeFileSync(new URL("bundle.js", dist), transformSync(source, { loader: "ts", format: "esm" }).code);
    writeFileSync(new URL(CLIENT_BUNDLE_FILES.esm, dist), "/* prebuilt */");
    const compiled = (await import(/* @vite-ignore */ new URL("bundle.js", dist).href)) as typeof import("../../client/bundle.js");
    expect(compiled.clientBundle("esm").code).toBe("/* prebuilt */");
    expect(() => compiled.clientBundle("iife")).toThrow(/npm run build:client/);
  });
});
