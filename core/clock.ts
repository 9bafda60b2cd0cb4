/**
 * The connections' clock: milliseconds since an origin near the process's start. The values stay small
 * integers (for 24 days of uptime), which V8 stores in a connection's fields as they are; a `Date.now()`
 * value is above 2^31 and would take a 16-byte heap number per field per connection.
 * @module
 */

// One millisecond back, so that `now()` is never 0 (0 means "no ping outstanding").
const ORIGIN = Date.now() - 1;

export function now(): number {
  return Date.now() - ORIGIN;
}
