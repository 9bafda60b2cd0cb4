/**
 * The chat demo (examples/chat) as one process of a cluster: the same app, with the Redis broker, so
 * that every process started this way (on its own port) serves one chat. examples/cluster/launch.ts
 * starts several.
 *
 * Environment: PORT (default 3001; 0 picks a free one), HOST (default 127.0.0.1), REDIS_URL (default
 * redis://127.0.0.1:6379), REDIS_PREFIX (default "wsmount-chat": processes with the same prefix share
 * the chat), WSMOUNT_SECRET (the broker's secret, the same for every process, at least 32 bytes:
 * `openssl rand -base64 32`). Without WSMOUNT_SECRET the process uses a development secret, written
 * below for anyone to read, and warns; with NODE_ENV=production it refuses to start instead.
 */
import { redisBroker } from "wsmount/redis";
import { startChat } from "../chat/app.js";

const port = Number(process.env.PORT ?? 3001);
const host = process.env.HOST ?? "127.0.0.1";
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error(`PORT must be a port number; got ${process.env.PORT}`);
  process.exit(1);
}

// Public, so it protects nothing: it only lets the demo run on a developer's machine without setup.
const DEVELOPMENT_SECRET = "wsmount examples/cluster development secret, public: never use it in production";
let secret = process.env.WSMOUNT_SECRET ?? "";
if (secret === "") {
  if (process.env.NODE_ENV === "production") {
    console.error("WSMOUNT_SECRET must be set in production: the same secret of at least 32 bytes on every process (openssl rand -base64 32)");
    process.exit(1);
  }
  console.warn(
    "warning: WSMOUNT_SECRET is not set, so the processes sign their Redis messages with the public development secret: " +
      "anyone who can publish on this Redis can reach every client. Set WSMOUNT_SECRET (openssl rand -base64 32) on every process.",
  );
  secret = DEVELOPMENT_SECRET;
}

const broker = redisBroker({
  url: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
  prefix: process.env.REDIS_PREFIX ?? "wsmount-chat",
  secret,
});
const chat = await startChat({ port, host, broker });
console.log(`listening on http://${host}:${chat.port}`);

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1);
    stopping = true;
    // Closes the connections (1001) and the broker channels; the Redis connections close with the last one.
    chat.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  });
}
