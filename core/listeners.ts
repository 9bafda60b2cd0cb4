/**
 * Listener lists: add returns the remover. Handler slots: the handlers of one kind a connection keeps,
 * without an array while there is only one.
 * @module
 */

/** Appends `listener` to `list`; the returned function removes it again. */
export function addListener<T>(list: T[], listener: T): () => void {
  list.push(listener);
  return () => {
    const index = list.indexOf(listener);
    if (index !== -1) list.splice(index, 1);
  };
}

/** No handler, one, or several (most connections have at most one of each kind: no array for it). */
export type HandlerSlot<T> = T | T[] | null;

const NONE: readonly never[] = [];

/** `slot` with `handler` added after the others. */
export function addToSlot<T>(slot: HandlerSlot<T>, handler: T): HandlerSlot<T> {
  if (slot === null) return handler;
  if (!Array.isArray(slot)) return [slot, handler];
  slot.push(handler);
  return slot;
}

/** `slot` without `handler` (its first occurrence). */
export function removeFromSlot<T>(slot: HandlerSlot<T>, handler: T): HandlerSlot<T> {
  if (slot === handler) return null;
  if (!Array.isArray(slot)) return slot;
  const index = slot.indexOf(handler);
  if (index !== -1) slot.splice(index, 1);
  return slot.length === 0 ? null : slot;
}

/** The handlers in `slot` as a list that handlers added or removed while it is walked do not change. */
export function handlersIn<T>(slot: HandlerSlot<T>): readonly T[] {
  if (slot === null) return NONE;
  return Array.isArray(slot) ? slot.slice() : [slot];
}
