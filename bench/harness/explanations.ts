/**
 * Why a target from the issue is missed, per kind of check: written from wsmount's code and from
 * measurements (server CPU per operation, heap per connection), so they hold whatever the machine's
 * load. RESULTS.md prints each once, under the checks of that kind that are missed, next to the
 * automatic notes (load generator saturated, server waiting for its core, spread above the margin).
 * Revisit them when the code they describe changes.
 */
import type { CheckKind } from "./checks.js";

export const EXPLANATIONS: Partial<Record<CheckKind, string>> = {
  echo:
    "Per message wsmount does work that raw ws's echo (the received Buffer sent straight back) does not: " +
    "text reaches the handler as a string and is sent back as one, i.e. one UTF-8 decode and one encode per message; " +
    "each text message is checked for the events envelope prefix; `send` reads `bufferedAmount` twice (hard limit and high-water mark) " +
    "and counts the message; the handler's return value is checked for a promise. " +
    "On small messages that is a measurable share of the few microseconds a message costs the server (µs/op column); on 64 KiB messages it is small next to copying and unmasking the payload.",
  handshake:
    "Per accepted handshake wsmount builds a ServerResponse for the socket and runs the framework's whole request pipeline on it " +
    "(the same as express-ws and @fastify/websocket do), then, beyond them: its own checks (origin, capacity, subprotocol), " +
    "a handshake timer, a 128-bit random id from the CSPRNG, the `conn.request` object, " +
    "and registration of the connection (connection map, heartbeat, counters). " +
    "Compare the server CPU per handshake (µs/op column) to see the cost independently of the machine's load.",
  memory:
    "Two parts. (1) What wsmount keeps per connection on the JavaScript heap (heap/conn columns; in a check at this revision with 10,000 " +
    "connections: ~3.6 KiB through node:http and ~3.8 KiB through Express, against ~2.7 KiB for raw ws): the Connection object " +
    "(heartbeat, idle and backpressure fields), the `conn.request` object (which keeps the request's headers object alive), the random id " +
    "string and the entry in the endpoint's connection map. Raw ws with the README heartbeat keeps only the WebSocket and an `isAlive` flag. " +
    "(2) Through a framework the process also takes a one-off amount while accepting that it keeps after a full GC without it being live " +
    "heap (through Express about 20 MB more than through node:http, the same at 2,500 and at 10,000 connections in an earlier check): " +
    "it weighs per connection only because it is divided by the connection count; the marginal columns, which leave it out, are the " +
    "closer measure of the per-connection cost.",
  broadcast:
    "wsmount encodes and frames a broadcast once, but for a 64-byte message the framing is a small part of a delivery: " +
    "each recipient still costs one socket write, i.e. one system call, and that dominates the server's cost per delivery for wsmount and raw ws alike " +
    "(µs/op column). uWebSockets.js, several times cheaper per delivery, coalesces what is published to each subscriber within a tick: " +
    "in a check at this revision, 16 messages broadcast in one tick reached each uWebSockets.js recipient in one read (16 frames per read), " +
    "each raw ws or wsmount recipient in 10 or more reads (one write per message and recipient). " +
    "wsmount would need the same coalescing (e.g. corking each recipient's socket until the end of the tick) to reach 1.5x.",
};
