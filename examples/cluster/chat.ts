/**
 * The chat demo (examples/chat) as one process of a cluster: the same app, with the Redis broker, so
 * that every process started this way (on its own port) serves one chat. examples/cluster/launch.ts
 * starts several.
 *
 * Environment: PORT (default 3001; 0 picks a free one), HOST (default 127.0.0.1), REDIS_URL (default
 * redis://127.0.0.1:6379), REDIS_PREFIX (default "wsmount-chat": processes with the same prefix share
 * the chat).
 */
import { redisBroker } from "wsmount/redis";
import { startChat } from "../chat/app.js";

const port = Number(process.env.PORT ?? 3001);
const host = process.env.HOST ?? "127.0.0.1";
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error(`PORT must be a port number; got ${process.env.PORT}`);
  process.exit(1);
}

const broker = redisBroker({
  url: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
  prefix: process.env.REDIS_PREFIX ?? "wsmount-chat",
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
