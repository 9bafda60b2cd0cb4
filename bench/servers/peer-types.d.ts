// express-ws ships no types (they live in @types/express-ws, written for Express 4); this is the
// part the benchmark server uses.
declare module "express-ws" {
  import type { Express, NextFunction, Request } from "express";
  import type { Server } from "node:http";

  type WsHandler = (ws: unknown, req: Request, next: NextFunction) => void;
  interface WithWebsocketMethod {
    ws(path: string, ...handlers: WsHandler[]): this;
  }
  interface Instance {
    app: Express & WithWebsocketMethod;
    getWss(): { clients: Set<unknown>; on(event: string, listener: (...args: never[]) => void): unknown };
  }
  export default function expressWs(app: Express, server?: Server, options?: { wsOptions?: Record<string, unknown> }): Instance;
}
