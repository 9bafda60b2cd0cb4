/**
 * The served browser client through every adapter: status, content type, ETag, cache headers, 304 on a
 * matching If-None-Match, HEAD, gzip, and the same bytes as the browser build. Real servers, raw HTTP.
 */
import { createServer, request, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";
import express from "express";
import Fastify from "fastify";
import Koa from "koa";
import Router from "@koa/router";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientScript as expressClientScript } from "../../adapters/express.js";
import { clientScript as fastifyClientScript } from "../../adapters/fastify.js";
import { clientScript as koaClientScript } from "../../adapters/koa.js";
import { clientScript as nodeClientScript } from "../../adapters/node.js";
import { acceptsGzip, createClientScript, matchesEtag } from "../../core/client-script.js";
import { clientBundle } from "../../client/bundle.js";
import { within } from "../helpers/client.js";

interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** One HTTP request on a fresh connection; the body exactly as it came over the wire (no decoding). */
function fetchRaw(port: number, path: string, init: { method?: string; headers?: Record<string, string> } = {}): Promise<RawResponse> {
  return within(
    new Promise<RawResponse>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port, path, method: init.method ?? "GET", headers: init.headers, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      });
      req.on("error", reject);
      req.end();
    }),
    `${init.method ?? "GET"} ${path}`,
  );
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)));
}

function stop(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

interface Served {
  port: number;
  close(): Promise<void>;
}

/** Each adapter serving the ES module at /wsmount.js and the classic script at /wsmount.iife.js. */
const adapters: Array<{ name: string; start(): Promise<Served> }> = [
  {
    name: "express",
    async start() {
      const app = express();
      app.get("/wsmount.js", expressClientScript());
      app.get("/wsmount.iife.js", expressClientScript({ format: "iife" }));
      const server = createServer(app);
      return { port: await listen(server), close: () => stop(server) };
    },
  },
  {
    name: "fastify",
    async start() {
      const app = Fastify();
      app.get("/wsmount.js", fastifyClientScript());
      app.get("/wsmount.iife.js", fastifyClientScript({ format: "iife" }));
      await app.listen({ port: 0, host: "127.0.0.1" });
      return { port: (app.server.address() as AddressInfo).port, close: () => app.close() };
    },
  },
  {
    name: "koa",
    async start() {
      const app = new Koa();
      const router = new Router();
      router.get("/wsmount.js", koaClientScript());
      app.use(router.routes());
      app.use(koaClientScript({ path: "/wsmount.iife.js", format: "iife" }));
      app.use((ctx) => {
        ctx.status = 404;
        ctx.body = "not here";
      });
      const server = createServer(app.callback());
      return { port: await listen(server), close: () => stop(server) };
    },
  },
  {
    name: "node",
    async start() {
      const serveEsm = nodeClientScript({ path: "/wsmount.js" });
      const serveIife = nodeClientScript({ path: "/wsmount.iife.js", format: "iife" });
      const server = createServer((req, res) => {
        if (serveEsm(req, res) || serveIife(req, res)) return;
        res.writeHead(404, { "Content-Type": "text/plain" }).end("not here");
      });
      return { port: await listen(server), close: () => stop(server) };
    },
  },
];

const esm = clientBundle("esm");
const iife = clientBundle("iife");

describe.each(adapters)("clientScript() on $name", (adapter) => {
  let served: Served;
  beforeAll(async () => {
    served = await adapter.start();
  });
  afterAll(() => served.close());

  it("serves the ES module build as JavaScript with a strong ETag and no-cache", async () => {
    const res = await fetchRaw(served.port, "/wsmount.js");
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("application/javascript; charset=utf-8");
    expect(res.headers.etag).toBe(esm.etag);
    expect(res.headers["cache-control"]).toBe("no-cache");
    expect(res.headers["x-content-type-options"]).toBe("nosniff");
    expect(res.headers.vary).toMatch(/accept-encoding/i);
    expect(res.headers["content-encoding"]).toBeUndefined();
    expect(res.headers["content-length"]).toBe(String(Buffer.byteLength(esm.code)));
    expect(res.body.toString("utf8")).toBe(esm.code);
  });

  it("answers a matching If-None-Match with 304, no body, and the validators", async () => {
    for (const ifNoneMatch of [esm.etag, `W/${esm.etag}`, `"other", ${esm.etag}`, "*"]) {
      const res = await fetchRaw(served.port, "/wsmount.js", { headers: { "If-None-Match": ifNoneMatch } });
      expect(res.status, ifNoneMatch).toBe(304);
      expect(res.body.length).toBe(0);
      expect(res.headers.etag).toBe(esm.etag);
      expect(res.headers["cache-control"]).toBe("no-cache");
    }
    const stale = await fetchRaw(served.port, "/wsmount.js", { headers: { "If-None-Match": '"stale"' } });
    expect(stale.status).toBe(200);
    expect(stale.body.toString("utf8")).toBe(esm.code);
  });

  it("sends the gzipped build, with its own ETag, when the browser accepts gzip", async () => {
    const res = await fetchRaw(served.port, "/wsmount.js", { headers: { "Accept-Encoding": "gzip, deflate, br" } });
    expect(res.status).toBe(200);
    expect(res.headers["content-encoding"]).toBe("gzip");
    expect(res.headers.etag).toBe(`"${esm.etag.slice(1, -1)}-gz"`);
    expect(res.headers["content-length"]).toBe(String(res.body.length));
    expect(res.body.length).toBeLessThan(Buffer.byteLength(esm.code) / 2);
    expect(gunzipSync(res.body).toString("utf8")).toBe(esm.code);
    const revalidated = await fetchRaw(served.port, "/wsmount.js", { headers: { "Accept-Encoding": "gzip", "If-None-Match": res.headers.etag! } });
    expect(revalidated.status).toBe(304);
    const refused = await fetchRaw(served.port, "/wsmount.js", { headers: { "Accept-Encoding": "gzip;q=0, identity" } });
    expect(refused.headers["content-encoding"]).toBeUndefined();
    expect(refused.body.toString("utf8")).toBe(esm.code);
  });

  it("answers HEAD with the GET headers and no body", async () => {
    const res = await fetchRaw(served.port, "/wsmount.js", { method: "HEAD" });
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("application/javascript; charset=utf-8");
    expect(res.headers.etag).toBe(esm.etag);
    expect(res.headers["content-length"]).toBe(String(Buffer.byteLength(esm.code)));
    expect(res.body.length).toBe(0);
    const conditional = await fetchRaw(served.port, "/wsmount.js", { method: "HEAD", headers: { "If-None-Match": esm.etag } });
    expect(conditional.status).toBe(304);
  });

  it("serves the classic-script build at another route", async () => {
    const res = await fetchRaw(served.port, "/wsmount.iife.js");
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("application/javascript; charset=utf-8");
    expect(res.headers.etag).toBe(iife.etag);
    expect(res.body.toString("utf8")).toBe(iife.code);
  });

  it("leaves other paths to the application", async () => {
    const res = await fetchRaw(served.port, "/wsmount.jsx");
    expect(res.status).toBe(404);
  });
});

describe("clientScript() with a path", () => {
  it("answers other methods on its path with 405 and Allow (node:http, plain Koa stack)", async () => {
    for (const adapter of adapters.filter((a) => a.name === "node" || a.name === "koa")) {
      const served = await adapter.start();
      try {
        const res = await fetchRaw(served.port, "/wsmount.iife.js", { method: "POST" });
        expect(res.status, adapter.name).toBe(405);
        expect(res.headers.allow).toBe("GET, HEAD");
      } finally {
        await served.close();
      }
    }
  });

  it("node:http ignores the query when matching the path", async () => {
    const serve = nodeClientScript({ path: "/wsmount.js" });
    const server = createServer((req, res) => {
      if (!serve(req, res)) res.writeHead(404).end();
    });
    const port = await listen(server);
    try {
      const res = await fetchRaw(port, "/wsmount.js?v=1");
      expect(res.status).toBe(200);
      expect(res.body.toString("utf8")).toBe(esm.code);
    } finally {
      await stop(server);
    }
  });

  it("refuses bad options with a TypeError naming them", () => {
    expect(() => nodeClientScript({ path: "wsmount.js" })).toThrow(/"path"/);
    expect(() => koaClientScript({ path: "" })).toThrow(/"path"/);
    expect(() => expressClientScript({ format: "umd" as "esm" })).toThrow(/"format"/);
    expect(() => fastifyClientScript({ cacheControl: "no-cache\r\nX-Evil: 1" })).toThrow(/"cacheControl"/);
  });
});

describe("ClientScript", () => {
  it("uses the cache policy it is given, on 200 and 304", () => {
    const script = createClientScript({ cacheControl: "public, max-age=31536000, immutable" });
    expect(script.respond({ method: "GET", headers: {} }).headers["Cache-Control"]).toBe("public, max-age=31536000, immutable");
    expect(script.respond({ method: "GET", headers: { "if-none-match": script.etag } }).headers["Cache-Control"]).toBe(
      "public, max-age=31536000, immutable",
    );
    expect(script.version).toBe(esm.etag.slice(1, 13));
  });

  it("builds its answers once: every request gets the same frozen response object", () => {
    const script = createClientScript();
    const first = script.respond({ method: "GET", headers: {} });
    expect(script.respond({ method: "HEAD", headers: {} })).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(first.body!.toString("utf8")).toBe(esm.code);
  });

  it("reads If-None-Match as RFC 9110 says: weak comparison, lists, *, commas inside tags", () => {
    expect(matchesEtag('"abc"', '"abc"')).toBe(true);
    expect(matchesEtag('W/"abc"', '"abc"')).toBe(true);
    expect(matchesEtag(' "x,y" , "abc"', '"abc"')).toBe(true);
    expect(matchesEtag('"x,"abc"', '"abc"')).toBe(false);
    expect(matchesEtag("*", '"abc"')).toBe(true);
    expect(matchesEtag('"abcd"', '"abc"')).toBe(false);
    expect(matchesEtag("abc", '"abc"')).toBe(false);
  });

  it("reads Accept-Encoding qualities", () => {
    expect(acceptsGzip(undefined)).toBe(false);
    expect(acceptsGzip("gzip")).toBe(true);
    expect(acceptsGzip("GZIP;q=0.5")).toBe(true);
    expect(acceptsGzip("gzip;q=0")).toBe(false);
    expect(acceptsGzip("br, deflate")).toBe(false);
    expect(acceptsGzip("*")).toBe(true);
    expect(acceptsGzip("*;q=0")).toBe(false);
    expect(acceptsGzip("gzip;q=0, *")).toBe(false);
    expect(acceptsGzip("x-gzip")).toBe(true);
    expect(acceptsGzip("identity")).toBe(false);
  });
});
