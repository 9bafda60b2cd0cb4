/**
 * Listener lists: add returns the remover.
 * @module
 */

/** Appends `listener` to `list`; the returned function removes it again. */
export function addListener<T>(list: T[], listener: T): () => void {
  list.push(listener);
  return removerOf(list, listener);
}

/**
 * `list` with `listener` appended, or a new list of just `listener` when there is none yet: sized for
 * one, where an empty array takes 17 slots on its first push (for a list kept per connection).
 */
export function withListener<T>(list: T[] | null, listener: T): T[] {
  if (list === null) return [listener];
  list.push(listener);
  return list;
}

/** A function that removes `listener` from `list`. */
export function removerOf<T>(list: T[], listener: T): () => void {
  return () => {
    const index = list.indexOf(listener);
    if (index !== -1) list.splice(index, 1);
  };
}
