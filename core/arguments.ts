/**
 * Checks of the arguments adapters take (handlers, paths), so that every adapter refuses them with
 * the same clear `TypeError`.
 * @module
 */

/** Throws a `TypeError` naming `call` unless `value` is a function. */
export function requireFunction<F extends (...args: never[]) => unknown>(value: F | undefined, call: string): asserts value is F {
  if (typeof value !== "function") throw new TypeError(`wsmount: ${call} needs a function; got ${typeof value}`);
}

/** Throws a `TypeError` naming `name` unless `value` is a path starting with "/". */
export function requirePath(value: unknown, name: string): void {
  if (typeof value !== "string" || !value.startsWith("/")) {
    throw new TypeError(`wsmount: ${name} must be a path starting with "/"; got ${String(value)}`);
  }
}
