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
    "Small messages: wsmount corks each socket it writes to until the end of the event-loop pass, so all the replies a connection gets in one pass " +
    "leave in one write, where raw ws writes each reply on its own. 64 KiB messages: the scenario is bound by the server (its CPU plus \"server " +
    "waited\" close to 100%, the load generator under half of its core at 20-70 µs per message, payloads skipped without copying), and the " +
    "server's own per-message work is the same for every ws-based target, about 40-60 µs here (each 65,550-byte frame is longer than one of Node's 64 KiB reads, so ws's " +
    "receiver copies its parts into one buffer, the echo is written back). What moves the results are two states a server process falls into " +
    "by chance, whatever library serves the socket. (1) Page faults: every read and joined message is a fresh 64 KiB malloc, freed when V8 " +
    "collects the Buffer, and with glibc's default thresholds the freed top of the heap often goes back to the kernel, so the next buffers fault " +
    "their pages in again: 2-15 faults and 100-300 µs more per message, raw ws included (from 0.0 to 8 faults between two runs of the same " +
    "server). The scenario now runs servers with heap trimming off (MALLOC_TRIM_THRESHOLD_), which keeps every target under 0.6 faults per " +
    "message (page faults/op column). (2) Back-to-back mark-compacts: some processes collect the old generation every 30 ms or so (\"GC in old " +
    "space requested\" with a 9 MB heap and about 20 MB of Buffer memory outside it), 20-80 per 2.5 s window, which costs 40-90 µs per message, " +
    "about half on V8's helper threads (server µs/op minus main thread µs/op; pinned to the server's core, they also show as \"server " +
    "waited\"). Only processes with a framework loaded did, whether it serves the WebSocket or not (the control \"raw ws, Express loaded\", raw " +
    "ws with Fastify imported, wsmount and the peers through Express, Koa and Fastify), and not every such process: the same server ran 0 " +
    "in one window and 70 in the next; raw ws and wsmount on node:http ran 0-5. The scenario now starts servers with " +
    "--initial-old-space-size=64, with which none ran any. Before these two settings a framework target could fall below raw ws by chance in " +
    "one run and match it in the next; if the spread grows again, compare main thread µs/op and page faults/op first. Fastify does nothing to the upgraded " +
    "socket that the other mounts do not: it has no timeout (ws's setSocket clears it), only ws's listeners and nothing left of the HTTP " +
    "response, as through node:http, and plain ws on fastify.server costs what it costs on http.createServer.",
  handshake:
    "Per handshake (client connects, server accepts, client closes) a CPU profile of the Express target, in µs of server CPU: TCP accept about " +
    "18; Express's routing and the auth middleware about 30; ws's handshake with the write of the 101 about 38; ws's closing path about 35, " +
    "half of it three internal Node errors (with stack traces) that ws creates by ending streams that have already ended; garbage collection " +
    "about 29; wsmount's own work about 25 (claiming the socket from the framework's response, its checks, the id, the connection object and " +
    "its registration, the headers it keeps). express-ws pays the same accept, routing, ws handshake and closing path and about 12 of its own, " +
    "so leading it by 1.3x would need the whole handshake in less CPU than ws's handshake and close alone: not reachable on ws without giving " +
    "up middleware before the upgrade, which is what the adapters are for. @fastify/websocket also routes through Fastify before the 101, on " +
    "the same kind of ServerResponse, and does less after it (no ids, no registry, no heartbeat of its own): wsmount's own work is the " +
    "difference, and the comparison moves between runs. That profile predates the second wave's upgrade path (one guarded state machine per " +
    "upgrade with its deadline, the wait for earlier pipelined responses, slot accounting, diagnostics channels), which has not been profiled " +
    "yet: in the run of 2026-11-27 (revision 72f816c, under contention) the server CPU per handshake was 455 µs for wsmount + Express against 297 " +
    "for express-ws, 298 against 232 for @fastify/websocket and 321 against 340 for koa-easy-ws (the first wave's full run: 1.28x koa-easy-ws, " +
    "0.89x @fastify/websocket, 0.75x express-ws). Compare the server CPU per handshake (µs/op column) to see the cost independently of load.",
  memory:
    "Three parts. (1) The JavaScript heap: wsmount keeps about 0.35 KiB per connection more than raw ws with the README heartbeat " +
    "(heap/conn columns): in a heap snapshot the Connection object (160 B: heartbeat and handler fields, with rarely used state made on " +
    "first use), `conn.request` (64 B) with the headers it keeps (the request's own minus the handshake-only ones; values most connections " +
    "share, such as Host, User-Agent or Origin, are kept once for all), the remote address (the string and Node's cached peer-name object, " +
    "about 90 B), the id (40 B) and the entry in the endpoint's connection map; raw ws keeps only the WebSocket, an `isAlive` flag and a " +
    "closure. (2) A one-off part every target pays: the young generation grows while 10,000 clients connect (about 2.4 KiB per connection " +
    "for raw ws, the difference between its total and marginal columns); it is counted per connection by the issue's measure and varies " +
    "between runs, which moves the ratios by several percent (raw ws measured 6.1 KiB per connection in the previous full run, 5.6 KiB in " +
    "this one). (3) Memory outside the heap: through Express (and express-ws) it is far larger than through node:http with the same heap per " +
    "connection: memory the allocator keeps for V8's garbage-collection helper threads, which work harder in a process that builds a full " +
    "Express request per handshake. In a check with 10,000 connections through Express, RSS per connection was 7.5 KiB by default, 6.4 KiB " +
    "with MALLOC_ARENA_MAX=1 and 6.5 KiB with --single-threaded-gc (raw ws: 6.2 KiB), with the same heap per connection in all three.",
  broadcast:
    "(Describes the revision before write batching.) wsmount encodes and frames a broadcast once, but for a 64-byte message the framing is a small part of a delivery: " +
    "each recipient still costs one socket write, i.e. one system call, and that dominates the server's cost per delivery for wsmount and raw ws alike " +
    "(µs/op column). uWebSockets.js, several times cheaper per delivery, coalesces what is published to each subscriber within a tick: " +
    "in a check at this revision, 16 messages broadcast in one tick reached each uWebSockets.js recipient in one read (16 frames per read), " +
    "each raw ws or wsmount recipient in 10 or more reads (one write per message and recipient). " +
    "wsmount would need the same coalescing (e.g. corking each recipient's socket until the end of the tick) to reach 1.5x.",
};
