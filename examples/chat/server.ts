/**
 * The chat demo (`npm start`): listens on $HOST:$PORT (default 127.0.0.1:3000) and closes gracefully on
 * SIGINT/SIGTERM. Open it in two browser tabs and talk to yourself.
 */
import { startChat, type RunningChat } from "./app.js";

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? "127.0.0.1";
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error(`PORT must be a port number; got ${process.env.PORT}`);
  process.exit(1);
}

let chat: RunningChat;
try {
  chat = await startChat({ port, host });
} catch (error) {
  // A busy port is the usual first-run failure: say what to do rather than print a stack.
  if ((error as NodeJS.ErrnoException).code === "EADDRINUSE") {
    console.error(`port ${port} is in use: PORT=${port + 1} npm start`);
    process.exit(1);
  }
  throw error;
}
const url = `http://${host.includes(":") ? `[${host}]` : host}:${chat.port}`;
console.log(`listening on ${url}`);
console.log(`open ${url} in two tabs, pick a name in each and chat (Ctrl+C stops)`);

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
