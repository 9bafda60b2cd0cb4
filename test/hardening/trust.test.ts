/**
 * Trust boundaries of the handshake through every mount: DNS rebinding (allowedHosts), scheme-aware
 * origins behind a trusted proxy, default ports, handshake concurrency, header parsing cost.
 */
import { afterEach, describe, expect, test } from "vitest";
import { handshake, rawSocket, refused, until } from "../helpers/client.js";
import { mounts, type Mounted } from "../helpers/mounts.js";
import type { EndpointOptions } from "../../core/index.js";

async function answer(server: Mounted, headers: Record<string, string | undefined>): Promise<string> {
  const socket = await rawSocket(server.port);
  socket.write(handshake("/echo", server.port, headers));
  const text = await new Promise<string>((resolve) => {
    let got = "";
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      got += chunk;
      if (got.includes("\r\n\r\n")) resolve(got);
    });
    socket.on("close", () => resolve(got));
  });
  socket.destroy();
  return text.split("\r\n")[0]!;
}

describe.each(mounts)("trust boundaries through $name", (mount) => {
  let server: Mounted | null = null;
  afterEach(async () => {
    await server?.close();
    server = null;
  });
  const start = async (options: EndpointOptions<any>) => (server = await mount.start({ pingInterval: 0, logger: false, ...options }, () => {}));

  test("DNS rebinding: a name outside allowedHosts is refused even though Origin matches Host", async () => {
    const s = await start({ allowedHosts: ["localhost"] });
    const rebound = { Host: `rebound.attacker.test:${s.port}`, Origin: `http://rebound.attacker.test:${s.port}` };
    expect(await answer(s, rebound)).toBe("HTTP/1.1 403 Forbidden");
    expect(s.endpoint.stats().handshakes.refused.host).toBe(1);
    expect(await answer(s, { Host: `localhost:${s.port}`, Origin: `http://localhost:${s.port}` })).toBe("HTTP/1.1 101 Switching Protocols");
    expect(await answer(s, {})).toBe("HTTP/1.1 101 Switching Protocols"); // Host: 127.0.0.1:port, an IP literal
  });

  test("without allowedHosts, the rebinding request passes the same-origin check (the documented default)", async () => {
    const s = await start({});
    expect(await answer(s, { Host: `rebound.attacker.test:${s.port}`, Origin: `http://rebound.attacker.test:${s.port}` })).toBe("HTTP/1.1 101 Switching Protocols");
  });

  test("behind a trusted proxy that ended TLS, an http:// page is refused and the https:// page accepted", async () => {
    const s = await start({ trustProxy: true });
    const proxied = { "X-Forwarded-Proto": "https", "X-Forwarded-Host": "chat.example.com" };
    expect(await answer(s, { ...proxied, Origin: "http://chat.example.com" })).toBe("HTTP/1.1 403 Forbidden");
    expect(await answer(s, { ...proxied, Origin: "https://chat.example.com" })).toBe("HTTP/1.1 101 Switching Protocols");
  });

  test("a Host with an explicit default port matches an Origin without one", async () => {
    const s = await start({});
    expect(await answer(s, { Host: "chat.example.com:80", Origin: "http://chat.example.com" })).toBe("HTTP/1.1 101 Switching Protocols");
  });

  test("handshakes past maxPendingHandshakes get 503 with Retry-After, and the slot comes back", async () => {
    const waiting: Array<() => void> = [];
    const s = await start({ maxPendingHandshakes: 2, authenticate: () => new Promise<undefined>((resolve) => waiting.push(() => resolve(undefined))) });
    const first = rawSocket(s.port).then((socket) => (socket.write(handshake("/echo", s.port)), socket));
    const second = rawSocket(s.port).then((socket) => (socket.write(handshake("/echo", s.port)), socket));
    await Promise.all([first, second]);
    await until(() => waiting.length === 2, "two handshakes in authenticate");
    const third = await refused(s.url());
    expect(third.status).toBe(503);
    expect(third.headers["retry-after"]).toBe("1");
    expect(s.endpoint.stats().handshakes.refused.busy).toBe(1);
    for (const release of waiting.splice(0)) release();
    const [a, b] = await Promise.all([first, second]);
    const replies = await Promise.all([readFirstLine(a), readFirstLine(b)]);
    expect(replies).toEqual(["HTTP/1.1 101 Switching Protocols", "HTTP/1.1 101 Switching Protocols"]);
    a.destroy();
    b.destroy();
  });

  test("3,000 offered subprotocols (as many as fit in the header limit) are refused with 400 without quadratic work", async () => {
    const s = await start({ subprotocols: ["chat"] });
    const offer = Array.from({ length: 3_000 }, (_, i) => i.toString(36)).join(",");
    expect(await answer(s, { "Sec-WebSocket-Protocol": offer })).toBe("HTTP/1.1 400 Bad Request");
  });
});

function readFirstLine(socket: import("node:net").Socket): Promise<string> {
  return new Promise((resolve) => {
    let got = "";
    socket.setEncoding("latin1");
    const onData = (chunk: string) => {
      got += chunk;
      if (got.includes("\r\n")) {
        socket.off("data", onData);
        resolve(got.split("\r\n")[0]!);
      }
    };
    socket.on("data", onData);
  });
}

