import { createServer } from "node:http";
import { websocket } from "wsmount/node";
import { announce, echo, echoOptions, host, port } from "./shared.js";

const server = createServer((_request, response) => {
  response.writeHead(404, { "Content-Type": "text/plain" }).end("Not Found");
});
const ws = websocket(echoOptions);
ws.attach(server, { path: "/echo" }, echo);

server.listen(port, host, () => announce((server.address() as { port: number }).port));
