/**
 * The one way wsmount calls code it does not own (user callbacks, framework handlers): a throw, a
 * rejection, or a hostile thenable reaches `failed`, never the caller's stack, the event loop as an
 * uncaught exception, or the process as an unhandled rejection.
 * @module
 */

/** Receives what a guarded call threw or rejected with. It must not throw itself. */
export type Failure = (error: unknown) => void;

/**
 * Calls `fn` with up to three arguments (no rest array: this runs per message). Returns its result, or
 * `undefined` when it threw; a returned promise that rejects is reported to `failed` too.
 */
export function callGuarded<R>(failed: Failure, fn: () => R): R | undefined;
export function callGuarded<A, R>(failed: Failure, fn: (a: A) => R, a: A): R | undefined;
export function callGuarded<A, B, R>(failed: Failure, fn: (a: A, b: B) => R, a: A, b: B): R | undefined;
export function callGuarded<A, B, C, R>(failed: Failure, fn: (a: A, b: B, c: C) => R, a: A, b: B, c: C): R | undefined;
export function callGuarded(failed: Failure, fn: (a?: unknown, b?: unknown, c?: unknown) => unknown, a?: unknown, b?: unknown, c?: unknown): unknown {
  let result: unknown;
  try {
    result = fn(a, b, c);
  } catch (error) {
    failed(error);
    return undefined;
  }
  if (result !== null && (typeof result === "object" || typeof result === "function")) watchRejection(result, failed);
  return result;
}

/** What {@link callSync} returns when the hook threw. */
export const THREW: unique symbol = Symbol("wsmount.threw");

/**
 * Calls a hook that must answer synchronously (`generateId`, `headers`, `shouldHandle`): returns its value,
 * or {@link THREW} when it threw (reported to `failed`). A promise it returns is returned as it is, for
 * the caller to refuse as the wrong type, and its rejection is reported to `failed` as well.
 */
export function callSync<A, R>(failed: Failure, fn: (a: A) => R, a: A): R | typeof THREW {
  let result: R;
  try {
    result = fn(a);
  } catch (error) {
    failed(error);
    return THREW;
  }
  if (result !== null && (typeof result === "object" || typeof result === "function")) watchRejection(result, failed);
  return result;
}

/**
 * Calls `fn` and always returns a promise of its result: a synchronous throw becomes a rejection. For
 * callbacks whose answer is awaited (`authenticate`, an origin check).
 */
export function callAsync<R>(fn: () => R | PromiseLike<R>): Promise<Awaited<R>>;
export function callAsync<A, R>(fn: (a: A) => R | PromiseLike<R>, a: A): Promise<Awaited<R>>;
export function callAsync<A, B, R>(fn: (a: A, b: B) => R | PromiseLike<R>, a: A, b: B): Promise<Awaited<R>>;
export function callAsync(fn: (a?: unknown, b?: unknown) => unknown, a?: unknown, b?: unknown): Promise<unknown> {
  try {
    // Promise.resolve adopts a thenable inside a job, where a throwing `then` becomes a rejection.
    return Promise.resolve(fn(a, b));
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Runs `onValue` or `onError` when `promise` settles, each guarded by `failed`: the end of an async
 * pipeline, where a throw in a continuation would otherwise be an unhandled rejection.
 */
export function whenSettled<T>(promise: PromiseLike<T>, onValue: (value: T) => void, onError: (error: unknown) => void, failed: Failure): void {
  const settled = (ok: boolean, value: unknown): void => {
    try {
      if (ok) onValue(value as T);
      else onError(value);
    } catch (error) {
      failed(error);
    }
  };
  try {
    promise.then(
      (value) => settled(true, value),
      (error: unknown) => settled(false, error),
    );
  } catch (error) {
    settled(false, error);
  }
}

/** True for anything with a callable `then` (reading `then` can throw on a hostile object: false then). */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  if (value === null || (typeof value !== "object" && typeof value !== "function")) return false;
  try {
    return typeof (value as PromiseLike<unknown>).then === "function";
  } catch {
    return false;
  }
}

function watchRejection(result: object, failed: Failure): void {
  let then: unknown;
  try {
    then = (result as PromiseLike<unknown>).then;
  } catch (error) {
    failed(error);
    return;
  }
  if (typeof then !== "function") return;
  try {
    (then as PromiseLike<unknown>["then"]).call(result, undefined, failed);
  } catch (error) {
    failed(error);
  }
}
