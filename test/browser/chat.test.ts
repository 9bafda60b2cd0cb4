/**
 * The chat demo and the served client in a real browser: headless Chromium (Debian's package) driven by
 * playwright-core. One browser for the file; each person is a browser context (own storage and cache),
 * pages are reused from test to test, and every wait is bounded.
 */
import { mkdirSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { websocket } from "../../adapters/express.js";
import { startChat, type RunningChat } from "../../examples/chat/app.js";
import { chromiumOrSkip, launchChromium } from "./chromium.js";

const executable = chromiumOrSkip();
const OUTPUT = new URL("../../test-output/browser/", import.meta.url);
const WAIT = 5_000;

interface ScriptRequest {
  ifNoneMatch: string | undefined;
  status: number;
  etag: string | undefined;
  contentType: string | undefined;
}

interface Served {
  chat: RunningChat;
  /** Requests for /wsmount.js, as the server answered them. */
  scriptRequests: ScriptRequest[];
  /** What the browser answered to the server's calls on /ack-test. */
  browserAnswers: unknown[];
  stop(): Promise<void>;
}

/**
 * The chat as `npm start` runs it, plus a test endpoint (/ack-test) for acknowledgements in both directions,
 * and a record of how /wsmount.js was served.
 */
async function serve(port = 0): Promise<Served> {
  const chat = await startChat({ port, presenceHeartbeat: 60_000 });
  const scriptRequests: ScriptRequest[] = [];
  const browserAnswers: unknown[] = [];
  chat.server.on("request", (req, res) => {
    if (req.url !== "/wsmount.js") return;
    res.on("finish", () =>
      scriptRequests.push({
        ifNoneMatch: req.headers["if-none-match"],
        status: res.statusCode,
        etag: res.getHeader("etag") as string | undefined,
        contentType: res.getHeader("content-type") as string | undefined,
      }),
    );
  });
  const acks = websocket();
  acks.onError(() => {});
  chat.app.get(
    "/ack-test",
    acks.handler((conn) => {
      conn.on("add", ([a, b]: [number, number]) => a + b);
      conn.on("fail", () => {
        throw Object.assign(new Error("not today"), { code: "E_TEST" });
      });
      // Asks the browser (a call from the server) and answers the browser with what it said.
      conn.on("ask", async (n: number) => {
        const answer = await conn.emitWithAck("double", n, { timeout: WAIT });
        browserAnswers.push(answer);
        return answer;
      });
    }),
  );
  acks.attach(chat.server);
  return {
    chat,
    scriptRequests,
    browserAnswers,
    async stop() {
      await acks.close({ timeout: 500 });
      await chat.stop();
    },
  };
}

describe.skipIf(executable === undefined)("chat demo in headless Chromium", () => {
  let browser: Browser;
  let served: Served;
  let base: string;
  const people = new Map<string, { context: BrowserContext; page: Page; errors: string[] }>();

  async function person(name: string, viewport = { width: 1100, height: 700 }): Promise<Page> {
    const context = await browser.newContext({ viewport, colorScheme: "light" });
    context.setDefaultTimeout(WAIT);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(message.text());
    });
    people.set(name, { context, page, errors });
    return page;
  }

  async function enter(page: Page, name: string): Promise<void> {
    await page.goto(base);
    await page.fill("#name-input", name);
    await page.press("#name-input", "Enter");
    await page.locator("#chat").waitFor({ state: "visible" });
    await expect.poll(() => page.locator("#room-title").textContent(), { timeout: WAIT }).toBe("#lobby");
  }

  async function say(page: Page, text: string): Promise<void> {
    await page.fill("#text-input", text);
    await page.press("#text-input", "Enter");
  }

  /** The text of each message in the current room's log, as "author: text" (grouped ones without author). */
  function messages(page: Page): Promise<string[]> {
    return page.locator(".messages:not([hidden]) .message:not(.pending)").evaluateAll((nodes) =>
      nodes.map((node) => `${node.querySelector(".author")?.textContent ?? ""}: ${node.querySelector(".text")?.textContent ?? ""}`),
    );
  }

  function names(page: Page, list: "member-list" | "online-list"): Promise<string[]> {
    return page.locator(`#${list} .person > span:nth-child(2)`).allTextContents();
  }

  beforeAll(async () => {
    mkdirSync(OUTPUT, { recursive: true });
    served = await serve();
    base = `http://127.0.0.1:${served.chat.port}`;
    browser = await launchChromium(executable!);
  });

  afterAll(async () => {
    await browser?.close();
    await served?.stop();
  });

  it("two people chat: each sees the other's messages, join notices and who is online", async () => {
    const ann = await person("Ann");
    const bob = await person("Bob");
    await enter(ann, "Ann");
    await enter(bob, "Bob");

    await ann.locator(".notice", { hasText: "Bob joined #lobby" }).waitFor();
    await expect.poll(() => names(ann, "member-list"), { timeout: WAIT }).toEqual(["Ann", "Bob"]);
    await expect.poll(() => names(bob, "online-list"), { timeout: WAIT }).toEqual(["Ann", "Bob"]);
    await expect.poll(() => names(ann, "online-list"), { timeout: WAIT }).toEqual(["Ann", "Bob"]);
    expect(await ann.locator("#room-subtitle").textContent()).toBe("2 people");

    await say(ann, "Hi Bob, welcome to the lobby!");
    await bob.locator(".message .text", { hasText: "welcome to the lobby" }).waitFor();
    await bob.locator("#text-input").pressSequentially("Thanks");
    await ann.locator("#typing", { hasText: "Bob is typing…" }).waitFor();
    await bob.press("#text-input", "Enter");
    await say(ann, "Messages are <b>plain text</b> here, never markup.");
    const attack = `<img src=x onerror="document.body.dataset.pwned='yes'">`;
    await say(bob, attack);
    await ann.locator(".message .text", { hasText: "onerror" }).waitFor();
    await expect.poll(() => messages(ann), { timeout: WAIT }).toEqual([
      "Ann: Hi Bob, welcome to the lobby!",
      "Bob: Thanks",
      "Ann: Messages are <b>plain text</b> here, never markup.",
      `Bob: ${attack}`,
    ]);
    expect(await messages(bob)).toEqual(await messages(ann));
    // User text stays text: no element was made from it, no handler ran.
    expect(await ann.locator(".messages img, .messages b").count()).toBe(0);
    expect(await ann.evaluate(() => document.body.dataset.pwned)).toBeUndefined();
    await expect.poll(() => ann.locator("#typing").textContent(), { timeout: WAIT }).toBe("");

    await ann.locator(".messages:not([hidden])").evaluate((log) => (log.scrollTop = log.scrollHeight));
    await ann.screenshot({ path: new URL("chat.png", OUTPUT).pathname });
    for (const { errors } of people.values()) expect(errors).toEqual([]);
  });

  it("rooms: joining shows the room to others with its count; messages stay in their room; leaving is announced", async () => {
    const ann = people.get("Ann")!.page;
    const bob = people.get("Bob")!.page;
    await ann.fill("#room-input", "#Book Club");
    await ann.press("#room-input", "Enter");
    await expect.poll(() => ann.locator("#room-title").textContent(), { timeout: WAIT }).toBe("#book-club");
    // Bob sees the new room in his list, with one member, and joins it from there.
    const listed = bob.locator("button.room[data-room='book-club']");
    await expect.poll(() => listed.locator(".count").textContent(), { timeout: WAIT }).toBe("1");
    await listed.click();
    await expect.poll(() => bob.locator("#room-title").textContent(), { timeout: WAIT }).toBe("#book-club");
    await ann.locator(".notice", { hasText: "Bob joined #book-club" }).waitFor();

    await say(bob, "Only for the club");
    await ann.locator(".messages[data-room='book-club'] .text", { hasText: "Only for the club" }).waitFor();
    expect(await ann.locator(".messages[data-room='lobby'] .text", { hasText: "Only for the club" }).count()).toBe(0);

    // A message in a room one is not looking at counts as unread.
    await ann.click("button.room[data-room='lobby']");
    await say(bob, "Are you still there?");
    await expect.poll(() => ann.locator("button.room[data-room='book-club'] .badge").textContent(), { timeout: WAIT }).toBe("1");

    await bob.click("#leave-button");
    await ann.click("button.room[data-room='book-club']");
    await ann.locator(".notice", { hasText: "Bob left #book-club" }).waitFor();
    await expect.poll(() => names(ann, "member-list"), { timeout: WAIT }).toEqual(["Ann"]);
    expect(await ann.locator("button.room[data-room='book-club'] .badge").count()).toBe(0);
    await ann.click("button.room[data-room='lobby']");
  });

  it("a name already online is suffixed, and the page says why a name is refused", async () => {
    const cleo = await person("Cleo", { width: 390, height: 760 });
    await cleo.goto(base);
    await cleo.fill("#name-input", "   ");
    await cleo.press("#name-input", "Enter");
    await expect.poll(() => cleo.locator("#name-error").textContent(), { timeout: WAIT }).toBe("Please type a name.");
    await cleo.fill("#name-input", "ann");
    await cleo.press("#name-input", "Enter");
    await cleo.locator("#chat").waitFor({ state: "visible" });
    expect(await cleo.locator("#me-name").textContent()).toBe("ann 2");
    const ann = people.get("Ann")!.page;
    await expect.poll(() => names(ann, "online-list"), { timeout: WAIT }).toEqual(["Ann", "ann 2", "Bob"]);
  });

  it("works at phone width: no sideways scrolling, rooms and people behind the menu button", async () => {
    const cleo = people.get("Cleo")!.page;
    await say(cleo, "Hello from a phone-sized screen, with a message long enough to wrap over a few lines.");
    await cleo.locator(".message .text", { hasText: "phone-sized" }).waitFor();
    expect(await cleo.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    expect(await cleo.locator("#sidebar").evaluate((sidebar) => sidebar.getBoundingClientRect().right <= 0)).toBe(true);
    await cleo.screenshot({ path: new URL("chat-phone.png", OUTPUT).pathname });
    await cleo.click("#menu-button");
    await expect.poll(() => cleo.locator("#sidebar").evaluate((sidebar) => sidebar.getBoundingClientRect().left), { timeout: WAIT }).toBe(0);
    await cleo.locator("#online-list .person", { hasText: "Bob" }).waitFor();
    await cleo.keyboard.press("Escape");
    await people.get("Cleo")!.context.close();
    people.delete("Cleo");
    const ann = people.get("Ann")!.page;
    await ann.locator(".notice", { hasText: "ann 2 left #lobby" }).waitFor();
  });

  it("acknowledgements round-trip both ways between the page and the server", async () => {
    const ann = people.get("Ann")!.page;
    // Sent as source text: the test runner rewrites dynamic imports in this file, the page must not get that.
    const program = `(async (url) => {
      const { connect, RemoteError } = await import("/wsmount.js");
      const client = connect(url, { reconnect: false, ackTimeout: 5000 });
      client.on("double", (n) => n * 2);
      try {
        const sum = await client.emitWithAck("add", [2, 3]);
        const failure = await client.emitWithAck("fail").then(
          () => null,
          (error) => ({ remote: error instanceof RemoteError, code: error.code, message: error.message }),
        );
        const doubled = await client.emitWithAck("ask", 21);
        return { sum, failure, doubled };
      } finally {
        client.close();
      }
    })(${JSON.stringify(`${base.replace("http:", "ws:")}/ack-test`)})`;
    const result = await ann.evaluate(program);
    expect(result).toEqual({ sum: 5, failure: { remote: true, code: "E_TEST", message: "not today" }, doubled: 42 });
    expect(served.browserAnswers).toEqual([42]);
  });

  it("serves its client as JavaScript with an ETag and no-cache; the browser revalidates it and gets a 304", async () => {
    const ann = people.get("Ann")!;
    const headers = await ann.page.evaluate(async () => {
      const response = await fetch("/wsmount.js", { cache: "no-store" });
      return {
        status: response.status,
        type: response.headers.get("content-type"),
        etag: response.headers.get("etag"),
        cacheControl: response.headers.get("cache-control"),
        encoding: response.headers.get("content-encoding"),
        nosniff: response.headers.get("x-content-type-options"),
      };
    });
    expect(headers).toMatchObject({ status: 200, type: "application/javascript; charset=utf-8", cacheControl: "no-cache", encoding: "gzip", nosniff: "nosniff" });
    expect(headers.etag).toMatch(/^"[\w-]{27}-gz"$/);

    // The page loaded it as a module script (which Chromium refuses unless it is served as JavaScript), and
    // a second tab of the same person revalidates the cached copy: If-None-Match, answered 304.
    const before = served.scriptRequests.length;
    const tab = await ann.context.newPage();
    await tab.goto(base);
    await tab.locator("#name-form").waitFor();
    await expect.poll(() => served.scriptRequests.length, { timeout: WAIT }).toBeGreaterThan(before);
    const revalidation = served.scriptRequests[before]!;
    expect(revalidation).toMatchObject({ status: 304, ifNoneMatch: headers.etag, etag: headers.etag });
    await tab.close();
  });

  it("the page reconnects by itself after the server restarts, rejoins its rooms and sends what was written offline", async () => {
    const ann = people.get("Ann")!.page;
    const bob = people.get("Bob")!.page;
    const port = served.chat.port;
    await served.stop();
    await ann.locator("#banner", { hasText: "Reconnecting" }).waitFor();
    await expect.poll(() => ann.locator("#status-dot").getAttribute("data-state"), { timeout: WAIT }).not.toBe("open");

    await say(ann, "Written while the server was down");
    await ann.locator(".message.pending", { hasText: "Written while the server was down" }).waitFor();
    // Shown as Ann's own, not as one more line of whoever wrote the message before it.
    expect(await ann.locator(".message.pending", { hasText: "Written while the server was down" }).locator(".author").textContent()).toBe("Ann");

    served = await serve(port);
    await ann.locator("#banner", { hasText: "Reconnected." }).waitFor({ timeout: 10_000 });
    await bob.locator("#banner", { hasText: "Reconnected." }).waitFor({ timeout: 10_000 });
    await expect.poll(() => ann.locator("#status-dot").getAttribute("data-state"), { timeout: WAIT }).toBe("open");
    await bob.locator(".message .text", { hasText: "Written while the server was down" }).waitFor();
    expect(await ann.locator(".message.pending").count()).toBe(0);
    // A new server knows them again: presence is back, under the same names.
    await expect.poll(() => names(bob, "online-list"), { timeout: WAIT }).toEqual(["Ann", "Bob"]);
    await expect.poll(() => names(ann, "member-list"), { timeout: WAIT }).toEqual(["Ann", "Bob"]);
    await say(bob, "And we are back");
    await ann.locator(".message .text", { hasText: "And we are back" }).waitFor();
    // The conversation from before the restart is still on the page, once.
    expect((await messages(ann)).filter((line) => line.includes("welcome to the lobby"))).toHaveLength(1);
  });
});
