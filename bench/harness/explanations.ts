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
    "Server CPU per handshake (connect with the auth header, the middleware, the 101, the client's close), from a profile of every pair on " +
    "a quiet machine (bench/PROFILE.md, `npm run bench:profile`): raw ws 244 µs, wsmount through node:http 174; @fastify/websocket 309, " +
    "wsmount through Fastify 219; koa-easy-ws 430, wsmount through Koa 205; express-ws 362, wsmount through Express 355. wsmount writes the " +
    "101 itself and runs the close itself with ws's Receiver and Sender (core/engine.ts), which removes what every ws-based peer pays: " +
    "34-46 µs of Node internal errors with stack traces (ws ends streams that already ended when a connection closes) and 14-22 µs of ws's " +
    "handshake and WebSocket object. wsmount's own work is 19-23 µs through node:http, Fastify and Koa and 42 µs through Express (claiming " +
    "the socket back from Express's response adds about 7). Kernel calls are the largest part everywhere (60-125 µs: system calls are " +
    "expensive on this machine, getpeername alone about 9 µs, which wsmount makes for conn.request.remoteAddress and ws does not), and " +
    "through Express garbage collection is 45-51 µs for both libraries, since Express builds its full request and response around every " +
    "upgrade. So through Express the CPU per handshake is within 2% of express-ws: what wsmount saves on ws is spent on Express itself, " +
    "which express-ws pays too; 1.3x would need Express's routing of the upgrade request to get cheaper, which is the framework's own code. " +
    "Through node:http and Fastify the CPU ratio is 1.4x, above the targets, but the throughput ratio is lower: the load generator on the " +
    "other core runs at 70-82% of it at these rates, and the run-to-run spread (25-50% for handshakes) is larger than the margins.",
  memory:
    "Memory is measured once RSS has settled after repeated full GCs (right after two, RSS still held the pages of the handshakes' garbage: " +
    "5-10 KiB per connection through Express in one run, 3.6-4 KiB settled). In the JavaScript heap a wsmount connection holds less than a " +
    "raw ws one (heap/conn columns): wsmount keeps ws's Receiver and Sender but not its WebSocket object, its event listeners and closures " +
    "(about 0.65 KiB), and adds its Connection (176 B), `conn.request` (64 B) with the headers it keeps, the id and the map entry. Times " +
    "are kept on a small-integer clock (no heap number per field), the peer's address is read without Node caching its name object on the " +
    "socket, and connections of the same URL share one string. Nothing of the framework's request, response or context stays alive through " +
    "any adapter (test/hardening/memory-retention.test.ts). The remaining spread between runs (7-12%) comes from RSS outside the heap.",
  broadcast:
    "(Describes the revision before write batching.) wsmount encodes and frames a broadcast once, but for a 64-byte message the framing is a small part of a delivery: " +
    "each recipient still costs one socket write, i.e. one system call, and that dominates the server's cost per delivery for wsmount and raw ws alike " +
    "(µs/op column). uWebSockets.js, several times cheaper per delivery, coalesces what is published to each subscriber within a tick: " +
    "in a check at this revision, 16 messages broadcast in one tick reached each uWebSockets.js recipient in one read (16 frames per read), " +
    "each raw ws or wsmount recipient in 10 or more reads (one write per message and recipient). " +
    "wsmount would need the same coalescing (e.g. corking each recipient's socket until the end of the tick) to reach 1.5x.",
};
