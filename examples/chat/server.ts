/**
 * The chat demo (`npm start`): listens on $HOST:$PORT (default 127.0.0.1:3000) and closes gracefully on
 * SIGINT/SIGTERM. Open it in two browser tabs and talk to yourself.
 */
import { startChat } from "./app.js";

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? "127.0.0.1";
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error(`PORT must be a port number; got ${process.env.PORT}`);
  process.exit(1);
}

const chat = await startChat({ port, host });
console.log(`listening on http://${host}:${chat.port}`);

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1);
    stopping = true;
    console.log("closing connections…");
    chat.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  });
}
