/**
 * The connection holder of `heap-diff.ts`: opens idle WebSocket connections with the `ws` client
 * (no permessage-deflate) and keeps them open until its stdin closes. A process of its own, so the
 * server's and the clients' file descriptors count against separate limits.
 *
 * argv[2]: JSON `{ url, count, concurrency, sources }`; `sources` loopback source addresses
 * (127.0.0.1 ... 127.0.0.<sources>) share the ephemeral ports.
 * stdout: `OPEN <opened> <failed>` once every connection is open or has failed; `STATUS <open> <closed>`
 * for each `status` line on stdin.
 */
import { createInterface } from "node:readline";
import { WebSocket } from "ws";

interface Spec {
  url: string;
  count: number;
  concurrency: number;
  sources: number;
}

const spec = JSON.parse(process.argv[2] ?? "{}") as Spec;
const sockets: WebSocket[] = [];
let opened = 0;
let failed = 0;
let closed = 0;
let launched = 0;
let reported = false;

function settle(): void {
  if (launched < spec.count) launch();
  else if (!reported && opened + failed === spec.count) {
    reported = true;
    process.stdout.write(`OPEN ${opened} ${failed}\n`);
  }
}

function launch(): void {
  while (launched < spec.count && launched - opened - failed < spec.concurrency) {
    const localAddress = `127.0.0.${1 + (launched % spec.sources)}`;
    launched++;
    const ws = new WebSocket(spec.url, { perMessageDeflate: false, localAddress });
    let settled = false;
    ws.on("open", () => {
      settled = true;
      opened++;
      sockets.push(ws);
      settle();
    });
    ws.on("error", () => {});
    ws.on("close", () => {
      if (settled) closed++;
      else {
        settled = true;
        failed++;
        settle();
      }
    });
  }
}

createInterface({ input: process.stdin })
  .on("line", (line) => {
    if (line.trim() === "status") process.stdout.write(`STATUS ${opened - closed} ${closed}\n`);
  })
  .on("close", () => process.exit(0));

if (spec.count === 0) process.stdout.write("OPEN 0 0\n");
else launch();
