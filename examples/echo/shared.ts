import type { Connection, EndpointOptions } from "wsmount";

/** The echo examples' endpoint configuration. */
export const echoOptions: EndpointOptions = {
  subprotocols: ["echo.v2", "echo.v1"],
  compression: true,
  maxMessageSize: 16 * 1024 * 1024,
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
