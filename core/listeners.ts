/**
 * Listener lists: add returns the remover.
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
