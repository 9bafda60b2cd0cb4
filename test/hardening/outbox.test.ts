/**
 * The outbox: everything a connection sends goes through one path with its bytes counted, so the
 * limits hold whatever a peer does (issue "Nothing a client sends can take the server down").
 * Every test runs through every mounting style.
 */
import { describe, expect, it } from "vitest";
import { once } from "node:events";
import { finished } from "node:stream/promises";
import type { Writable } from "node:stream";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type WebSocket from "ws";
import type { Connection, EndpointOptions } from "../../core/index.js";
import { HELD_MESSAGE_COST } from "../../core/connection.js";
import { mountedPerTest, mounts, type Mounted } from "../helpers/mounts.js";
import { closed, nextMessage, open, until, within } from "../helpers/client.js";
import { RawClient, type ServerEvent } from "../helpers/raw-client.js";
import { binaryFrame } from "../helpers/frames.js";

const KiB = 1024;
const MiB = 1024 * KiB;

// A real collection before each heap reading: --expose-gc for this test file's process only.
setFlagsFromString("--expose-gc");
const gc = ((globalThis as { gc?: () => void }).gc ?? runInNewContext("gc")) as () => void;

function heapNow(): number {
  gc();
  gc();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

function codeOf(error: unknown): unknown {
  return (error as { code?: unknown } | null)?.code;
}

/** A fresh flat string of `length` one-byte characters (no rope sharing memory with another). */
function freshString(length: number, seed: number): string {
  return Buffer.alloc(length, 0x61 + (seed % 26)).toString("latin1");
}

describe.each(mounts)("outbox through $name", (mount) => {
  const { start, cleanup } = mountedPerTest(mount.name);

  /** An app, a reading `ws` client, and the server side of its connection with errors collected. */
  async function serve(options: EndpointOptions<any>): Promise<{ app: Mounted; conn: Connection<any>; ws: WebSocket; errors: unknown[] }> {
    let conn: Connection<any> | undefined;
    const errors: unknown[] = [];
    const app = await start(options, (c) => {
      conn = c;
      c.onError((error) => void errors.push(error));
    });
    const { ws } = await open(app.url());
    cleanup.push(() => ws.terminate());
    await until(() => conn !== undefined, "the connection");
    return { app, conn: conn!, ws, errors };
  }

  describe("messages waiting behind a streamed message", () => {
    it("count in bufferedAmount and follow the streamed message in order", async () => {
      const { app, conn, ws } = await serve({});
      const writer = conn.stream({ binary: false });
      writer.write("streamed ");
      expect(conn.send("first")).toBe(false); // it waits: not sent now
      app.endpoint.all().send("broadcast");
      conn.send(Buffer.from([1, 2, 3]));
      // 5 + 9 + 3 bytes wait in the outbox (what ws holds of the first fragment, if anything, on top).
      expect(conn.bufferedAmount).toBeGreaterThanOrEqual(17);
      expect(conn.bufferedAmount).toBeLessThanOrEqual(17 + 9 + 2);
      writer.end("message");
      const got = [];
      for (let i = 0; i < 4; i++) {
        const { data, isBinary } = await nextMessage(ws);
        got.push(isBinary ? `binary:${data.toString("hex")}` : data.toString());
      }
      expect(got).toEqual(["streamed message", "first", "broadcast", "binary:010203"]);
      await until(() => conn.bufferedAmount === 0, "the outbox to empty");
      expect(app.endpoint.stats().messagesOut).toBe(4);
    });

    it("count towards maxBufferedAmount: the drop policy drops sends and broadcasts past it", async () => {
      const { app, conn, ws } = await serve({ backpressure: "drop", writeBufferSize: KiB, maxMessageSize: 64 * KiB, maxBufferedAmount: 64 * KiB, writeTimeout: 0 });
      const writer = conn.stream();
      // Nothing is on the wire: 4 messages of 16 KiB fill the 64 KiB, the other 6 and a broadcast are dropped.
      for (let i = 0; i < 10; i++) conn.send(Buffer.alloc(16 * KiB, i));
      app.endpoint.all().send(Buffer.alloc(16 * KiB, 0xff));
      expect(conn.bufferedAmount).toBe(64 * KiB);
      expect(app.endpoint.stats().messagesDropped).toBe(7);
      writer.end();
      expect((await nextMessage(ws)).data.length).toBe(0); // the (empty) streamed message first
      for (let i = 0; i < 4; i++) expect((await nextMessage(ws)).data).toEqual(Buffer.alloc(16 * KiB, i));
      conn.send("after");
      expect((await nextMessage(ws)).data.toString()).toBe("after");
      expect(conn.readyState).toBe(1);
    });

    it("count towards maxBufferedAmount: the close policy closes with 1013", async () => {
      const { app, conn, ws, errors } = await serve({ backpressure: "close", writeBufferSize: KiB, maxMessageSize: 64 * KiB, maxBufferedAmount: 64 * KiB, writeTimeout: 0 });
      const writer = conn.stream();
      const writerDone = finished(writer).then(() => "finished", codeOf);
      const done = closed(ws);
      for (let i = 0; i < 4; i++) conn.send(Buffer.alloc(16 * KiB, i));
      expect(conn.readyState).toBe(1);
      app.endpoint.all().send(Buffer.alloc(16 * KiB));
      expect(conn.readyState).toBe(2);
      expect((await done).code).toBe(1013);
      expect(app.endpoint.stats().closedBy.backpressure).toBe(1);
      expect(errors.map(codeOf)).toContain("ERR_WSMOUNT_BACKPRESSURE");
      expect(await within(writerDone, "the writer to fail")).toBe("ERR_WSMOUNT_NOT_OPEN");
    });
  });

  describe("stream chunks and maxBufferedAmount", () => {
    it("a chunk past the limit before any fragment is out drops the whole message (drop policy); the connection goes on", async () => {
      const { app, conn, ws, errors } = await serve({ backpressure: "drop", writeBufferSize: KiB, maxMessageSize: 64 * KiB, maxBufferedAmount: 64 * KiB, writeTimeout: 0 });
      const writer = conn.stream();
      const writerDone = finished(writer).then(() => "finished", codeOf);
      conn.send(Buffer.alloc(40 * KiB, 1)); // waits behind the stream
      expect(writer.write(Buffer.alloc(40 * KiB, 2))).toBe(false); // 40 + 40 KiB > 64 KiB
      expect(await within(writerDone, "the writer to fail")).toBe("ERR_WSMOUNT_BACKPRESSURE");
      expect(app.endpoint.stats().messagesDropped).toBe(1);
      // The message that waited goes out, and the connection goes on.
      expect((await nextMessage(ws)).data).toEqual(Buffer.alloc(40 * KiB, 1));
      conn.send("after");
      expect((await nextMessage(ws)).data.toString()).toBe("after");
      expect(app.endpoint.stats().closedBy.backpressure).toBe(0);
      // The writer's own listener (finished) heard of it: nothing for the connection's handlers.
      expect(errors).toEqual([]);
    });

    it("a chunk past the limit before any fragment is out closes with 1013 (close policy)", async () => {
      const { app, conn, ws, errors } = await serve({ backpressure: "close", writeBufferSize: KiB, maxMessageSize: 64 * KiB, maxBufferedAmount: 64 * KiB, writeTimeout: 0 });
      const writer = conn.stream();
      const writerDone = finished(writer).then(() => "finished", codeOf);
      const done = closed(ws);
      conn.send(Buffer.alloc(40 * KiB, 1));
      writer.write(Buffer.alloc(40 * KiB, 2));
      expect(await within(writerDone, "the writer to fail")).toBe("ERR_WSMOUNT_BACKPRESSURE");
      expect((await done).code).toBe(1013);
      expect(app.endpoint.stats().closedBy.backpressure).toBe(1);
      expect(errors.map(codeOf)).toEqual(["ERR_WSMOUNT_BACKPRESSURE"]);
    });

    it("a chunk past the limit after a fragment is out closes with 1013 whatever the policy (half a message cannot be dropped)", async () => {
      const { app, conn, ws } = await serve({ backpressure: "drop", writeBufferSize: KiB, maxMessageSize: 64 * KiB, maxBufferedAmount: 64 * KiB, writeTimeout: 0 });
      const writer = conn.stream();
      const writerDone = finished(writer).then(() => "finished", codeOf);
      const done = closed(ws);
      writer.write(Buffer.alloc(KiB)); // the first fragment is out
      conn.send(Buffer.alloc(40 * KiB, 1));
      writer.write(Buffer.alloc(40 * KiB, 2));
      expect(await within(writerDone, "the writer to fail")).toBe("ERR_WSMOUNT_BACKPRESSURE");
      expect((await done).code).toBe(1013);
      expect(app.endpoint.stats().closedBy.backpressure).toBe(1);
      expect(app.endpoint.stats().messagesDropped).toBe(0);
    });

    it("a single chunk larger than the limit is refused once anything is buffered", async () => {
      const { app, conn, ws } = await serve({ backpressure: "drop", writeBufferSize: KiB, maxMessageSize: 64 * KiB, maxBufferedAmount: 64 * KiB, writeTimeout: 0 });
      const writer = conn.stream();
      const writerDone = finished(writer).then(() => "finished", codeOf);
      conn.send("x"); // one byte waits
      writer.write(Buffer.alloc(MiB));
      expect(await within(writerDone, "the writer to fail")).toBe("ERR_WSMOUNT_BACKPRESSURE");
      expect((await nextMessage(ws)).data.toString()).toBe("x");
      expect(app.endpoint.stats().messagesDropped).toBe(1);
    });

    it("stream backpressure keeps working: a writer that waits for 'drain' sends far more than the limit", async () => {
      const { app, conn, ws } = await serve({ writeBufferSize: 16 * KiB, maxMessageSize: 256 * KiB, maxBufferedAmount: 256 * KiB });
      const writer = conn.stream();
      let refusedNow = 0;
      for (let i = 0; i < 256; i++) {
        if (!writer.write(Buffer.alloc(16 * KiB, i))) {
          refusedNow++;
          await within(once(writer, "drain"), "drain");
        }
      }
      writer.end();
      const { data } = await nextMessage(ws);
      expect(data.length).toBe(4 * MiB);
      for (let i = 0; i < 256; i++) expect(data[i * 16 * KiB]).toBe(i);
      expect(refusedNow).toBeGreaterThan(0);
      const stats = app.endpoint.stats();
      expect([stats.messagesDropped, stats.closedBy.backpressure]).toEqual([0, 0]);
    });
  });

  describe("a streamed message whose connection closes", () => {
    it("fails its writer with ERR_WSMOUNT_NOT_OPEN: finished() settles", async () => {
      const { conn, ws } = await serve({});
      const writer = conn.stream();
      writer.write(Buffer.from("part"));
      const outcome = finished(writer).then(() => "finished", codeOf);
      ws.close();
      expect(await within(outcome, "finished(writer)")).toBe("ERR_WSMOUNT_NOT_OPEN");
      expect(writer.destroyed).toBe(true);
    });

    it("fails with ERR_WSMOUNT_NOT_OPEN too when a fragment is still being written as the peer goes away", async () => {
      let conn: Connection<any> | undefined;
      const app = await start({ maxBufferedAmount: 64 * MiB, writeTimeout: 0 }, (c) => void (conn = c));
      const client = await RawClient.connect(app.port);
      client.socket.pause();
      cleanup.push(() => client.destroy());
      await until(() => conn !== undefined, "the connection");
      const writer = conn!.stream();
      const outcome = finished(writer).then(() => "finished", codeOf);
      // More than the kernel's buffers take: fragments wait in the socket and in the writer.
      for (let i = 0; i < 32; i++) writer.write(Buffer.alloc(MiB, i));
      await until(() => conn!._unflushed() > 0, "a fragment the kernel does not take");
      client.destroy();
      expect(await within(outcome, "finished(writer)")).toBe("ERR_WSMOUNT_NOT_OPEN");
    });

    it("a writer without an 'error' listener cannot crash the process; the connection's handlers hear of it", async () => {
      const { conn, ws, errors } = await serve({});
      const writer: Writable = conn.stream();
      ws.terminate();
      await until(() => writer.destroyed, "the writer to be destroyed");
      expect(codeOf(writer.errored)).toBe("ERR_WSMOUNT_NOT_OPEN");
      await until(() => errors.length > 0, "the connection's error handler");
      expect(errors.map(codeOf)).toEqual(["ERR_WSMOUNT_NOT_OPEN"]);
    });
  });

  describe("compression threshold: one rule for send, broadcasts, events and streams", () => {
    for (const offer of ["permessage-deflate; client_max_window_bits", "permessage-deflate; client_max_window_bits; server_no_context_takeover"]) {
      it(`compresses what is at least the threshold, nothing smaller (${offer.includes("server_no") ? "no context takeover" : "context takeover"})`, async () => {
        let conn: Connection<any> | undefined;
        const app = await start({ compression: { threshold: 1024 } }, (c) => void (conn = c));
        const client = await RawClient.connect(app.port, { extensions: offer });
        cleanup.push(() => client.destroy());
        expect(client.negotiated.deflate).toBe(true);
        await until(() => conn !== undefined, "the connection");
        const small = "s".repeat(1023);
        const large = "l".repeat(1024);
        conn!.send(small);
        conn!.send(large);
        conn!.send(large, { compress: false });
        app.endpoint.all().send(small);
        app.endpoint.all().send(large);
        app.endpoint.all().send(Buffer.from(large));
        conn!.emit("tick", "t");
        const writer = conn!.stream({ binary: false });
        writer.end(large);
        const lengths: number[] = [];
        const compressed: boolean[] = [];
        for (let i = 0; i < 8; i++) {
          const event = (await client.next()) as Extract<ServerEvent, { kind: "message" }>;
          expect(event.kind).toBe("message");
          lengths.push(event.data.length);
          compressed.push(event.compressed);
        }
        expect(lengths.filter((_, i) => i !== 6)).toEqual([1023, 1024, 1024, 1023, 1024, 1024, 1024]);
        expect(lengths[6]).toBeLessThan(1024); // the event envelope
        expect(compressed).toEqual([false, true, false, false, true, true, false, true]);
      });
    }
  });

  describe("a peer that stops reading while the server streams and broadcasts to it", () => {
    for (const backpressure of ["drop", "close"] as const) {
      it(`keeps the server's extra memory near maxBufferedAmount (policy ${backpressure})`, { timeout: 60_000 }, async () => {
        let conn: Connection<any> | undefined;
        const errors: unknown[] = [];
        const limit = MiB;
        const app = await start({ backpressure, maxBufferedAmount: limit, writeBufferSize: 64 * KiB, writeTimeout: 0, pingInterval: 0, pongTimeout: 10_000 }, (c) => {
          conn = c;
          c.onError((error) => void errors.push(error));
        });
        // Completes the handshake, then never reads.
        const client = await RawClient.connect(app.port);
        client.socket.pause();
        cleanup.push(() => client.destroy());
        await until(() => conn !== undefined, "the connection");

        // A streamed message until the peer's buffers are full: no 'drain' within 200 ms.
        const writer = conn!.stream();
        writer.on("error", () => {});
        const chunk = Buffer.alloc(64 * KiB, 0x62);
        let streamed = 0;
        for (let stalled = false; !stalled; ) {
          writer.write(chunk);
          streamed += chunk.length;
          stalled = !(await Promise.race([once(writer, "drain").then(() => true), new Promise<boolean>((r) => setTimeout(r, 200, false))]));
        }
        expect(conn!._unflushed()).toBeGreaterThan(0); // the socket holds data the peer does not take

        const before = heapNow();
        const count = 1000;
        const size = 32 * KiB;
        for (let i = 0; i < count; i++) {
          conn!.send(freshString(size, i));
          app.endpoint.all().send(freshString(size, i + 1));
        }
        const extra = heapNow() - before;
        const attempted = 2 * count * size;
        // Unbounded, the waiting messages alone would hold `attempted` (62.5 MiB, more with the
        // broadcasts' encoded copies); bounded, what waits stays under the limit.
        expect(extra, `extra heap ${(extra / MiB).toFixed(2)} MiB for ${(attempted / MiB).toFixed(1)} MiB sent, ${(streamed / MiB).toFixed(1)} MiB streamed`).toBeLessThan(4 * limit);
        expect(conn!.bufferedAmount).toBeLessThanOrEqual(limit + 2 * 64 * KiB);
        const stats = app.endpoint.stats();
        if (backpressure === "drop") {
          expect(stats.messagesDropped).toBeGreaterThan(2 * count - 2 * limit / size);
          expect(conn!.readyState).toBe(1);
        } else {
          expect(stats.closedBy.backpressure).toBe(1);
          expect(errors.map(codeOf)).toEqual(["ERR_WSMOUNT_BACKPRESSURE"]);
          // Reading again, the peer finds the close frame behind the data it left.
          client.socket.resume();
          let event: ServerEvent;
          do event = await client.next(10_000);
          while (event.kind !== "close" && event.kind !== "end" && event.kind !== "timeout");
          expect(event).toMatchObject({ kind: "close", code: 1013 });
        }
      });
    }
  });

  describe("messages held while an async connection handler runs", () => {
    it(`stop reading at readBufferSize counting each message as at least ${HELD_MESSAGE_COST} bytes, and all arrive in order after`, async () => {
      let conn: Connection<any> | undefined;
      let finish!: () => void;
      const got: number[] = [];
      const app = await start({ readBufferSize: 64 * KiB }, (c) => {
        conn = c;
        c.onMessage((data) => void got.push((data as Buffer)[0]!));
        return new Promise<void>((resolve) => (finish = resolve));
      });
      const client = await RawClient.connect(app.port);
      cleanup.push(() => client.destroy());
      await until(() => conn !== undefined, "the connection");
      // 30,000 one-byte messages: 30 KB of payload, under readBufferSize by bytes alone.
      const count = 30_000;
      client.send(Buffer.concat(Array.from({ length: count }, (_, i) => binaryFrame(Buffer.from([i % 256])))));
      await until(() => conn!._readingPaused, "reading to stop");
      // Reading stops after readBufferSize / (1 + cost) messages; the socket read in progress then
      // (at most 64 KiB of 7-byte frames) is still parsed and held.
      const held = app.endpoint.stats().messagesIn;
      expect(held).toBeLessThanOrEqual(Math.ceil((64 * KiB) / (1 + HELD_MESSAGE_COST)) + Math.ceil((64 * KiB) / 7));
      expect(held).toBeLessThan(count);
      expect(got).toEqual([]);
      finish();
      await until(() => got.length === count, "every held message");
      expect(got.every((byte, i) => byte === i % 256)).toBe(true);
    });
  });
});
