import type { Connection, EndpointOptions } from "wsmount";

/** The echo examples' endpoint configuration. */
export const echoOptions: EndpointOptions = {
  subprotocols: ["echo.v2", "echo.v1"],
  compression: true,
  maxMessageSize: 16 * 1024 * 1024,
  // A page on another name that resolves to this machine (DNS rebinding) must not reach the endpoint:
  // only localhost (and IP literals, always allowed) may be asked for. Add your own host names here.
  allowedHosts: (process.env.ALLOWED_HOSTS ?? "localhost").split(","),
};

/** Sends every message back with its type: text as text, binary as binary. */
export function echo(connection: Connection): void {
  connection.onMessage((data, isBinary) => connection.send(data, { binary: isBinary }));
}

export const port = Number(process.env.PORT ?? 3000);
export const host = "127.0.0.1";

export function announce(actualPort: number): void {
  console.log(`listening on http://${host}:${actualPort}`);
}
