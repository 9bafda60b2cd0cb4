/**
 * Serving the browser build of `wsmount/client` at a route of the user's choice (as iris serves
 * `/iris-ws.js`): the answers are computed once per process, and each request only picks one.
 * Adapters expose it as `clientScript()`; this module knows no framework.
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { gzipSync } from "node:zlib";
import { clientBundle, type ClientBundleFormat } from "../client/bundle.js";

/** Options of {@link createClientScript} (and of every adapter's `clientScript()`). */
export interface ClientScriptOptions {
  /**
   * `"esm"`: an ES module exporting `connect` and the error classes (`import { connect } from "/wsmount.js"`).
   * `"iife"`: a classic script defining the global `wsmount` (`<script src="/wsmount.js">`).
   * @defaultValue "esm"
   */
  format?: ClientBundleFormat;
  /**
   * `Cache-Control` of the `200` and `304` answers. The default makes browsers revalidate on every use, which
   * costs a `304` without a body thanks to the ETag, and never serves a stale client after an upgrade. Use
   * `"public, max-age=31536000, immutable"` only on a path that changes with the content (see
   * {@link ClientScript.version}).
   * @defaultValue "no-cache"
   */
  cacheControl?: string;
}

/** The parts of a request that decide the answer. */
export interface ClientScriptRequest {
  /** The request method. */
  method?: string | undefined;
  /** The request headers (lower-case names, as in Node's `IncomingMessage`). */
  headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** An answer to write: status, headers and body (`null`: none). */
export interface ClientScriptResponse {
  readonly status: 200 | 304 | 405;
  readonly headers: Readonly<Record<string, string>>;
  /**
   * The body. For `HEAD` it is the `GET` body, so that frameworks compute the same `Content-Length`; Node's
   * HTTP server (and every framework on it) never writes a body in an answer to `HEAD`.
   */
  readonly body: Buffer | null;
}

/** One encoding of the script, with its three possible answers. */
interface Representation {
  readonly etag: string;
  readonly ok: ClientScriptResponse;
  readonly notModified: ClientScriptResponse;
}

interface Encoded {
  readonly identity: Buffer;
  readonly gzip: Buffer;
  readonly hash: string;
}

const encodedCache = new Map<ClientBundleFormat, Encoded>();

/** The bundle's bytes, plain and gzipped (level 9), made once per format and process. */
function encoded(format: ClientBundleFormat): Encoded {
  let value = encodedCache.get(format);
  if (value === undefined) {
    const bundle = clientBundle(format);
    const identity = Buffer.from(bundle.code, "utf8");
    value = { identity, gzip: gzipSync(identity, { level: 9 }), hash: bundle.etag.slice(1, -1) };
    encodedCache.set(format, value);
  }
  return value;
}

const METHOD_NOT_ALLOWED: ClientScriptResponse = Object.freeze({
  status: 405,
  headers: Object.freeze({ Allow: "GET, HEAD", "Content-Type": "text/plain; charset=utf-8" }),
  body: Buffer.from("Method Not Allowed"),
});

/**
 * The served browser client: every answer (`200` plain and gzipped, `304`, `405`) is built when it is
 * created; {@link respond} only chooses one.
 */
export class ClientScript {
  /** The format served. */
  readonly format: ClientBundleFormat;
  /**
   * A short hash of the code, for a path that changes with the content (`/wsmount.${version}.js`), which may
   * then be cached as immutable.
   */
  readonly version: string;
  readonly #identity: Representation;
  readonly #gzip: Representation;

  /** Use {@link createClientScript}. */
  constructor(options: ClientScriptOptions = {}) {
    if (typeof options !== "object" || options === null) throw new TypeError("wsmount: clientScript options must be an object");
    const format = options.format ?? "esm";
    if (format !== "esm" && format !== "iife") throw new TypeError(`wsmount: option "format" must be "esm" or "iife"; got ${String(format)}`);
    const cacheControl = options.cacheControl ?? "no-cache";
    if (typeof cacheControl !== "string" || cacheControl.length === 0 || /[\r\n]/.test(cacheControl)) {
      throw new TypeError(`wsmount: option "cacheControl" must be a non-empty single-line string; got ${String(cacheControl)}`);
    }
    const { identity, gzip, hash } = encoded(format);
    this.format = format;
    this.version = hash.slice(0, 12);
    this.#identity = representation(identity, `"${hash}"`, null, cacheControl);
    // A different body needs a different strong ETag (RFC 9110 section 8.8.3).
    this.#gzip = representation(gzip, `"${hash}-gz"`, "gzip", cacheControl);
  }

  /** The ETag of the plain (not gzipped) script. */
  get etag(): string {
    return this.#identity.etag;
  }

  /**
   * The answer to a request: `200` with the script (gzipped when `Accept-Encoding` allows it), `304` when
   * `If-None-Match` names the current version, `405` for methods other than `GET` and `HEAD`.
   */
  respond(request: ClientScriptRequest): ClientScriptResponse {
    const method = request.method ?? "GET";
    if (method !== "GET" && method !== "HEAD") return METHOD_NOT_ALLOWED;
    const chosen = acceptsGzip(header(request.headers["accept-encoding"])) ? this.#gzip : this.#identity;
    const ifNoneMatch = header(request.headers["if-none-match"]);
    return ifNoneMatch !== undefined && matchesEtag(ifNoneMatch, chosen.etag) ? chosen.notModified : chosen.ok;
  }

  /** Answers a plain Node request (node:http, Express) on its response. */
  serve(request: IncomingMessage, response: ServerResponse): void {
    const answer = this.respond(request);
    response.statusCode = answer.status;
    for (const [name, value] of Object.entries(answer.headers)) response.setHeader(name, value);
    if (answer.body === null) response.end();
    else response.end(answer.body);
  }
}

/**
 * Creates the served browser client (see {@link ClientScript}). Building the bundle happens here, once per
 * format and process, so a missing prebuilt file fails at startup, not on the first request.
 * @throws TypeError for an invalid option; Error when the compiled package lacks the prebuilt bundle.
 */
export function createClientScript(options?: ClientScriptOptions): ClientScript {
  return new ClientScript(options);
}

function representation(body: Buffer, etag: string, encoding: string | null, cacheControl: string): Representation {
  // RFC 9110 section 15.4.5: a 304 carries the ETag, Cache-Control and Vary the 200 would have carried.
  const common: Record<string, string> = { ETag: etag, "Cache-Control": cacheControl, Vary: "Accept-Encoding" };
  const ok: Record<string, string> = {
    "Content-Type": "application/javascript; charset=utf-8",
    "Content-Length": String(body.length),
    ...common,
    "X-Content-Type-Options": "nosniff",
  };
  if (encoding !== null) ok["Content-Encoding"] = encoding;
  return {
    etag,
    ok: Object.freeze({ status: 200, headers: Object.freeze(ok), body }),
    notModified: Object.freeze({ status: 304, headers: Object.freeze(common), body: null }),
  };
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(", ") : value;
}

/**
 * `If-None-Match` (RFC 9110 section 13.1.2): `*`, or a list of entity tags compared weakly (a `W/` prefix
 * is ignored). Tags are found by their quotes, since a comma may appear inside one.
 */
export function matchesEtag(ifNoneMatch: string, etag: string): boolean {
  if (ifNoneMatch.trim() === "*") return true;
  for (const match of ifNoneMatch.matchAll(/(?:W\/)?("[^"]*")/g)) if (match[1] === etag) return true;
  return false;
}

/**
 * Whether `Accept-Encoding` (RFC 9110 section 12.5.3) allows gzip: `gzip` (or `x-gzip`) with a non-zero
 * quality, or `*` with one while gzip is not listed.
 */
export function acceptsGzip(acceptEncoding: string | undefined): boolean {
  if (acceptEncoding === undefined) return false;
  let gzip: number | undefined;
  let any: number | undefined;
  for (const part of acceptEncoding.split(",")) {
    const [coding = "", ...params] = part.split(";");
    const name = coding.trim().toLowerCase();
    if (name !== "gzip" && name !== "x-gzip" && name !== "*") continue;
    let quality = 1;
    for (const param of params) {
      const [key = "", value = ""] = param.split("=");
      if (key.trim().toLowerCase() === "q") quality = Number(value.trim());
    }
    if (!Number.isFinite(quality)) quality = 0;
    if (name === "*") any = quality;
    else gzip = Math.max(gzip ?? 0, quality);
  }
  return gzip !== undefined ? gzip > 0 : any !== undefined && any > 0;
}
