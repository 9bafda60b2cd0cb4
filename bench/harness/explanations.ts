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
    "wsmount corks each socket it writes to until the end of the event-loop pass, so all the replies a connection gets in one pass leave " +
    "in one write: with many messages in flight that makes small-message echo cheaper than raw ws, which writes each reply on its own. " +
    "For 64 KiB messages that saving is small next to copying and unmasking the payload, and wsmount's remaining per-message work " +
    "(text decoded to a string and encoded again, the events-prefix check, counters) is not what separates the results: in this run " +
    "the framework targets' server waited for its core for about 40% of the window and the spread between runs (49%) is larger than the " +
    "differences, while the node:http target, with the same per-message code, measured 1.32x raw ws. The 64 KiB result is inconclusive " +
    "on this shared 2-core machine rather than a measured loss.",
  handshake:
    "Per accepted handshake wsmount builds a ServerResponse for the socket and runs the framework's whole request pipeline on it " +
    "before the 101 (express-ws and koa-easy-ws write the 101 first and run the framework afterwards, or not at all), then, beyond the peers: " +
    "its own checks (version, key, origin, capacity, subprotocol), a handshake timer, the `conn.request` object, " +
    "and registration of the connection (connection map, heartbeat, counters). A CPU profile of the Express target shows the framework's " +
    "routing at about the same cost as in express-ws, ws's own handshake at about 16% of busy time, and wsmount's own code spread thin " +
    "(its largest single item, one CSPRNG call per id, now comes from a pooled buffer). Leading express-ws by 1.3x would mean doing the " +
    "handshake with less work than a library that skips the framework's answer before the 101: not reached, and not reachable without " +
    "giving up middleware before the upgrade. Compare the server CPU per handshake (µs/op column) to see the cost independently of load.",
  memory:
    "Two parts. (1) What wsmount keeps per connection on the JavaScript heap (heap/conn columns; in a check at this revision with 10,000 " +
    "connections: ~3.6 KiB through node:http and ~3.8 KiB through Express, against ~2.7 KiB for raw ws): the Connection object " +
    "(heartbeat, idle and backpressure fields), the `conn.request` object (which keeps the request's headers object alive, a few hundred bytes), the random id " +
    "string and the entry in the endpoint's connection map. Raw ws with the README heartbeat keeps only the WebSocket and an `isAlive` flag. " +
    "(2) Through a framework the process also takes a one-off amount while accepting that it keeps after a full GC without it being live " +
    "heap (through Express about 20 MB more than through node:http, the same at 2,500 and at 10,000 connections in an earlier check): " +
    "it weighs per connection only because it is divided by the connection count; the marginal columns, which leave it out, are the " +
    "closer measure of the per-connection cost. Through Express (and express-ws) the marginal RSS per connection is far above the heap per " +
    "connection, which is the same as through node:http: a FinalizationRegistry check shows every Express request and response freed after " +
    "the upgrade, so that difference is memory the process keeps outside the JavaScript heap, not objects wsmount retains.",
  broadcast:
    "(Describes the revision before write batching.) wsmount encodes and frames a broadcast once, but for a 64-byte message the framing is a small part of a delivery: " +
    "each recipient still costs one socket write, i.e. one system call, and that dominates the server's cost per delivery for wsmount and raw ws alike " +
    "(µs/op column). uWebSockets.js, several times cheaper per delivery, coalesces what is published to each subscriber within a tick: " +
    "in a check at this revision, 16 messages broadcast in one tick reached each uWebSockets.js recipient in one read (16 frames per read), " +
    "each raw ws or wsmount recipient in 10 or more reads (one write per message and recipient). " +
    "wsmount would need the same coalescing (e.g. corking each recipient's socket until the end of the tick) to reach 1.5x.",
};
