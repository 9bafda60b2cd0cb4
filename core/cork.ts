/**
 * Write batching for fan-out: a socket that receives a broadcast stays corked until the end of the
 * current event-loop pass, so every message it gets in that pass leaves in one write (writev) instead
 * of one system call per message. Ordering is kept: everything written while corked is flushed in order.
 * @module
 */

/** The part of a socket that corking needs. */
export interface Corkable {
  cork(): void;
  uncork(): void;
  readonly destroyed: boolean;
}

const kCorked = Symbol("wsmount.corked");

type Tracked = Corkable & { [kCorked]?: boolean };

let corked: Tracked[] = [];
let scheduled = false;

/** Corks `socket` until the end of this event-loop pass (once, however often it is called). */
export function corkForThisPass(socket: Corkable): void {
  const tracked = socket as Tracked;
  if (tracked[kCorked] === true) return;
  tracked[kCorked] = true;
  socket.cork();
  corked.push(tracked);
  if (!scheduled) {
    scheduled = true;
    setImmediate(uncorkAll);
  }
}

function uncorkAll(): void {
  const sockets = corked;
  corked = [];
  scheduled = false;
  for (const socket of sockets) {
    socket[kCorked] = false;
    if (!socket.destroyed) socket.uncork();
  }
}
