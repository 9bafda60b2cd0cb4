/**
 * RFC 7692 permessage-deflate negotiation (§5, §7.1): which offers the server accepts, which it
 * must decline, and that what it accepted is what it then does on the wire.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { textFrame, deflateMessage, closeFrame } from "../helpers/frames.js";
import { RawClient, HandshakeFailed, type ResponseHead } from "../helpers/raw-client.js";
import { echo } from "./echo.js";
import { mounts, type Mounted as Started } from "./targets.js";

/** Parameters of the accepted permessage-deflate, or undefined when the server declined it. */
function acceptedParams(head: ResponseHead): Map<string, string | true> | undefined {
  const value = head.headers.get("sec-websocket-extensions")?.join(", ");
  if (value === undefined) return undefined;
  const extensions = value.split(",").map((e) => e.trim());
  // RFC 6455 §9.1: the server answers with at most the extensions it accepted, one deflate.
  expect(extensions.length, `one accepted extension in ${value}`).toBe(1);
  const [name, ...params] = (extensions[0] ?? "").split(";").map((p) => p.trim());
  expect(name).toBe("permessage-deflate");
  const map = new Map<string, string | true>();
  for (const param of params) {
    const [key, raw] = param.split("=").map((p) => p.trim());
    expect(map.has(key ?? ""), `parameter ${key} appears once`).toBe(false);
    map.set(key ?? "", raw === undefined ? true : raw.replace(/^"|"$/g, ""));
  }
  return map;
}

type Outcome =
  | { kind: "accepted"; params: Map<string, string | true>; client: RawClient }
  | { kind: "declined"; client: RawClient }
  | { kind: "refused"; status: number };

async function offer(port: number, extensions: string): Promise<Outcome> {
  try {
    const client = await RawClient.connect(port, { extensions });
    const params = acceptedParams(client.head);
    return params ? { kind: "accepted", params, client } : { kind: "declined", client };
  } catch (error) {
    if (error instanceof HandshakeFailed && error.head) return { kind: "refused", status: error.head.statusCode };
    throw error;
  }
}

/** Three compressed echoes: each must come back intact (the client inflates per negotiated context). */
async function roundTrip(client: RawClient): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const text = `round trip ${"compressible ".repeat(30)}`;
    client.send(textFrame(deflateMessage(text), { rsv1: true }));
    const event = await client.next();
    expect(event.kind === "message" && event.data.toString()).toBe(text);
  }
  client.send(closeFrame(1000));
  expect((await client.next()).kind).toBe("close");
}

/** An offer the server must decline (RFC 7692 section 5): a 101 without the extension, never a 400. */
async function expectDeclined(port: number, extensions: string): Promise<void> {
  const outcome = await offer(port, extensions);
  if (outcome.kind !== "refused") outcome.client.destroy();
  expect(outcome.kind).toBe("declined");
}

describe.each(mounts)("permessage-deflate negotiation through $name", (mount) => {
  let plain: Started;
  let deflate: Started;
  let configured: Started;

  beforeAll(async () => {
    plain = await mount.start({ pingInterval: 0 }, echo);
    deflate = await mount.start({ pingInterval: 0, compression: { threshold: 0 } }, echo);
    configured = await mount.start(
      { pingInterval: 0, compression: { threshold: 0, serverNoContextTakeover: true, clientMaxWindowBits: 10 } },
      echo,
    );
  });
  afterAll(async () => {
    await Promise.all([plain.close(), deflate.close(), configured.close()]);
  });

  test("compression off: an offer is declined, the connection works uncompressed", async () => {
    const outcome = await offer(plain.port, "permessage-deflate; client_max_window_bits");
    expect(outcome.kind).toBe("declined");
    if (outcome.kind !== "declined") return;
    outcome.client.send(textFrame("plain"));
    const event = await outcome.client.next();
    expect(event.kind === "message" && !event.compressed && event.data.toString()).toBe("plain");
    outcome.client.destroy();
  });

  test("bare offer accepted, no client_max_window_bits in the answer (§7.1.2.2)", async () => {
    const outcome = await offer(deflate.port, "permessage-deflate");
    expect(outcome.kind).toBe("accepted");
    if (outcome.kind !== "accepted") return;
    expect(outcome.params.has("client_max_window_bits")).toBe(false);
    await roundTrip(outcome.client);
    outcome.client.destroy();
  });

  test("client_max_window_bits without a value: answer, if any, is 8..15", async () => {
    const outcome = await offer(deflate.port, "permessage-deflate; client_max_window_bits");
    expect(outcome.kind).toBe("accepted");
    if (outcome.kind !== "accepted") return;
    const bits = outcome.params.get("client_max_window_bits");
    if (bits !== undefined) expect(Number(bits)).toBeGreaterThanOrEqual(8);
    if (bits !== undefined) expect(Number(bits)).toBeLessThanOrEqual(15);
    await roundTrip(outcome.client);
    outcome.client.destroy();
  });

  test("client_max_window_bits=10: the answer never raises it", async () => {
    const outcome = await offer(deflate.port, "permessage-deflate; client_max_window_bits=10");
    expect(outcome.kind).toBe("accepted");
    if (outcome.kind !== "accepted") return;
    const bits = outcome.params.get("client_max_window_bits");
    if (bits !== undefined) expect(Number(bits)).toBeLessThanOrEqual(10);
    await roundTrip(outcome.client);
    outcome.client.destroy();
  });

  test("server_no_context_takeover requested: accepted, answered, and honoured on the wire", async () => {
    const outcome = await offer(deflate.port, "permessage-deflate; server_no_context_takeover");
    expect(outcome.kind).toBe("accepted");
    if (outcome.kind !== "accepted") return;
    expect(outcome.params.get("server_no_context_takeover")).toBe(true);
    // The client inflates each message with a fresh inflater, which fails if the server reused context.
    expect(outcome.client.negotiated.serverNoContextTakeover).toBe(true);
    await roundTrip(outcome.client);
    outcome.client.destroy();
  });

  test("client_no_context_takeover offered: accepted", async () => {
    const outcome = await offer(deflate.port, "permessage-deflate; client_no_context_takeover");
    expect(outcome.kind).toBe("accepted");
    if (outcome.kind !== "accepted") return;
    await roundTrip(outcome.client);
    outcome.client.destroy();
  });

  test("server_max_window_bits=10: accepted with a window of at most 10, or declined", async () => {
    const outcome = await offer(deflate.port, "permessage-deflate; server_max_window_bits=10");
    expect(outcome.kind).not.toBe("refused");
    if (outcome.kind !== "accepted") return;
    expect(Number(outcome.params.get("server_max_window_bits"))).toBeLessThanOrEqual(10);
    await roundTrip(outcome.client);
    outcome.client.destroy();
  });

  test.each([
    ["an unknown parameter", "permessage-deflate; foo=1"],
    ["an unknown valueless parameter", "permessage-deflate; x_unknown"],
    ["server_max_window_bits=7 (below 8)", "permessage-deflate; server_max_window_bits=7"],
    ["server_max_window_bits=16 (above 15)", "permessage-deflate; server_max_window_bits=16"],
    ["server_max_window_bits without a value", "permessage-deflate; server_max_window_bits"],
    ["client_max_window_bits=abc", "permessage-deflate; client_max_window_bits=abc"],
    ["server_no_context_takeover with a value", "permessage-deflate; server_no_context_takeover=1"],
    ["a parameter given twice", "permessage-deflate; server_no_context_takeover; server_no_context_takeover"],
  ])("offer with %s is declined: 101 without the extension (§5)", async (_name, extensions) => {
    await expectDeclined(deflate.port, extensions);
  });

  test("an unknown extension is ignored: 101 without Sec-WebSocket-Extensions", async () => {
    const outcome = await offer(deflate.port, "x-webkit-deflate-frame; no_context_takeover");
    expect(outcome.kind).toBe("declined");
    if (outcome.kind === "declined") outcome.client.destroy();
  });

  test("unknown extension before permessage-deflate: deflate still accepted", async () => {
    const outcome = await offer(deflate.port, "x-unknown, permessage-deflate");
    expect(outcome.kind).toBe("accepted");
    if (outcome.kind !== "accepted") return;
    await roundTrip(outcome.client);
    outcome.client.destroy();
  });

  test("a bad offer followed by a good one: the bad one declined, the good one accepted", async () => {
    const outcome = await offer(deflate.port, "permessage-deflate; foo=1, permessage-deflate");
    expect(outcome.kind).toBe("accepted");
    if (outcome.kind !== "accepted") return;
    expect(outcome.params.has("foo")).toBe(false);
    await roundTrip(outcome.client);
    outcome.client.destroy();
  });

  test("server options: server_no_context_takeover and client_max_window_bits=10 imposed when offered", async () => {
    const outcome = await offer(configured.port, "permessage-deflate; client_max_window_bits");
    expect(outcome.kind).toBe("accepted");
    if (outcome.kind !== "accepted") return;
    expect(outcome.params.get("server_no_context_takeover")).toBe(true);
    expect(outcome.params.get("client_max_window_bits")).toBe("10");
    await roundTrip(outcome.client);
    outcome.client.destroy();
  });

  test("server requires client_max_window_bits but the client cannot: declined, never imposed (§7.1.2.2)", async () => {
    const outcome = await offer(configured.port, "permessage-deflate");
    if (outcome.kind !== "refused") outcome.client.destroy();
    expect(outcome.kind).toBe("declined");
  });

  test("malformed extension header: declined", async () => {
    await expectDeclined(deflate.port, "permessage-deflate;;=");
  });
});
