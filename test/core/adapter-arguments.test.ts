import { expect, it } from "vitest";
import { websocket as ex } from "../../adapters/express.js";
import { websocket as koa, clientScript } from "../../adapters/koa.js";
import { websocket as node } from "../../adapters/node.js";
import { createServer } from "node:http";
it("refuses bad adapter arguments with named TypeErrors", () => {
  expect(() => ex().handler("x" as never)).toThrow(/handler\(onConnection\) needs a function/);
  expect(() => koa().middleware("echo", () => {})).toThrow(/middleware\(path\) must be a path starting with "\/"/);
  expect(() => koa().middleware("/echo", 5 as never)).toThrow(/middleware\(path, onConnection\) needs a function/);
  expect(() => node().attach(createServer(), { path: "x" }, () => {})).toThrow(/option "path" must be a path/);
  expect(() => clientScript({ path: "nope" })).toThrow(/option "path"/);
});
