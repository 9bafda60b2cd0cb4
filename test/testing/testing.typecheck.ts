/**
 * Type-level tests of `wsmount/testing`, checked by `npx tsc --noEmit -p .` (not run by vitest): each
 * `@ts-expect-error` line must be a compile error, or tsc fails with "Unused '@ts-expect-error' directive".
 */
import { createServer } from "node:http";
import { expectRefused, openTestClient, type CloseInfo, type RefusedHandshake, type TestClient, type TestMessage } from "wsmount/testing";

/** Events the server sends to clients. */
interface ServerEvents {
  "chat:message": (msg: { room: string; text: string }) => void;
  "tick": () => void;
  "confirm": (question: string) => boolean;
}

/** Events clients send to the server. */
type ClientEvents = {
  "chat:send": (msg: { room: string; text: string }) => void;
  "rooms:join": (room: string) => { members: number };
  "time": () => Promise<number>;
};

async function typed(): Promise<void> {
  const client: TestClient<ServerEvents, ClientEvents> = await openTestClient<ServerEvents, ClientEvents>(createServer(), {
    path: "/chat",
    headers: { authorization: "Bearer t" },
    protocols: ["chat.v1"],
    timeout: 500,
  });

  // ---- emit: names and data from ClientEvents
  client.emit("chat:send", { room: "lobby", text: "hi" });
  client.emit("time");
  // @ts-expect-error unknown event name
  client.emit("chat:sned", { room: "lobby", text: "hi" });
  // @ts-expect-error wrong data type
  client.emit("chat:send", { room: "lobby" });
  // @ts-expect-error data missing
  client.emit("rooms:join");
  // @ts-expect-error a server-to-client event is not emitted by the client
  client.emit("chat:message", { room: "lobby", text: "hi" });

  // ---- call: results from ClientEvents, options after the data
  const joined: { members: number } = await client.call("rooms:join", "lobby");
  const now: number = await client.call("time", undefined, { timeout: 100 });
  // @ts-expect-error the result is { members: number }
  const wrong: string = await client.call("rooms:join", "lobby");
  // @ts-expect-error wrong data type
  await client.call("rooms:join", 42);
  // @ts-expect-error unknown option
  await client.call("time", undefined, { timout: 5 });

  // ---- nextEvent: data from ServerEvents
  const message = await client.nextEvent("chat:message", { timeout: 100 });
  const text: string = message.text;
  const tick: undefined = await client.nextEvent("tick");
  // @ts-expect-error the data has no "user"
  void message.user;
  // @ts-expect-error a client-to-server event is never received
  await client.nextEvent("chat:send");

  // ---- onCall: handlers typed from ServerEvents
  const off: () => void = client.onCall("confirm", (question) => question.length > 0);
  client.onCall("confirm", async (question: string) => question === "yes");
  // @ts-expect-error the answer must be a boolean
  client.onCall("confirm", () => "yes");
  // @ts-expect-error the data is a string
  client.onCall("confirm", (question: number) => question > 0);
  // @ts-expect-error unknown event
  client.onCall("confirn", () => true);

  // ---- raw messages and closing
  const raw: TestMessage = await client.nextMessage();
  const asText: string = typeof raw === "string" ? raw : raw.toString("utf8");
  client.send("text");
  client.send(new Uint8Array([1]));
  const info: CloseInfo = await client.expectClose(1008, /policy/);
  const closed: { code: number; reason: string } = await client.close(4000, "bye");
  // @ts-expect-error close codes are numbers
  await client.expectClose("1008");

  void [joined, now, wrong, text, tick, off, asText, info, closed];
}
void typed;

async function untyped(): Promise<void> {
  // Without maps, any event name and data.
  const client = await openTestClient("ws://127.0.0.1:1/echo");
  client.emit("anything", { a: 1 });
  const result: unknown = await client.call("whatever", [1, 2]);
  const data: unknown = await client.nextEvent("any:name");
  const refused: RefusedHandshake = await expectRefused(createServer(), { path: "/x", headers: { "x-deny": "1" } });
  const status: number = refused.status;
  // @ts-expect-error a refusal's body is text
  const body: Buffer = refused.body;
  // @ts-expect-error a target is a URL or a server
  await openTestClient(3000);
  void [result, data, status, body];
}
void untyped;
