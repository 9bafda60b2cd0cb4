/** Starts each echo example as a user would (`npx tsx examples/echo/<name>.ts`) and checks it from outside. */
import { spawn, type ChildProcess } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { closed, nextMessage, open, refused, within } from "../helpers/client.js";

const children: ChildProcess[] = [];

function startExample(name: string): Promise<number> {
  const child = spawn(process.execPath, ["--import", "tsx", `examples/echo/${name}.ts`], {
    env: { ...process.env, PORT: "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let output = "";
  return within(
    new Promise<number>((resolve, reject) => {
      child.stdout!.on("data", (chunk: Buffer) => {
        output += chunk;
        const match = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
        if (match) resolve(Number(match[1]));
      });
      child.stderr!.on("data", (chunk: Buffer) => (output += chunk));
      child.once("exit", (code) => reject(new Error(`example ${name} exited with ${code}: ${output}`)));
    }),
    `example ${name} to listen`,
    20_000,
  );
}

afterAll(() => {
  for (const child of children) child.kill("SIGKILL");
});

describe.each(["express", "fastify", "koa", "node"])("examples/echo/%s.ts", (name) => {
  it("echoes text and 16 MiB binary with echo.v2 and compression negotiated", async () => {
    const port = await startExample(name);
    const { ws, headers } = await open(`ws://127.0.0.1:${port}/echo`, ["echo.v1", "echo.v2"]);
    expect(ws.protocol).toBe("echo.v2");
    expect(headers["sec-websocket-extensions"]).toMatch(/^permessage-deflate/);
    ws.send("hello");
    const text = await nextMessage(ws);
    expect([text.isBinary, text.data.toString()]).toEqual([false, "hello"]);
    const big = Buffer.alloc(16 * 1024 * 1024, 1);
    ws.send(big);
    const reply = await nextMessage(ws, 15_000);
    expect(reply.isBinary).toBe(true);
    expect(reply.data.equals(big)).toBe(true);
    ws.send(Buffer.alloc(16 * 1024 * 1024 + 1));
    expect((await closed(ws, 15_000)).code).toBe(1009);
    expect((await refused(`ws://127.0.0.1:${port}/echo`, undefined, { origin: "http://elsewhere.example" })).status).toBe(403);
  }, 60_000);
});
