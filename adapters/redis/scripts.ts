/**
 * The Lua scripts behind cluster-wide queries. Each runs in one round trip over the set of processes
 * of an endpoint, skips (and forgets) processes whose `alive` key has expired, and reads the
 * per-process hashes that each process keeps up to date.
 * @module
 */
import { createHash } from "node:crypto";
import type { Redis } from "ioredis";

/** A script sent by its SHA1, and in full only when Redis does not have it yet. */
export class Script {
  readonly #source: string;
  readonly #sha: string;

  constructor(source: string) {
    this.#source = source;
    this.#sha = createHash("sha1").update(source).digest("hex");
  }

  /** Runs the script with one key (the set of processes) and its arguments. */
  async run(redis: Redis, key: string, ...args: string[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.#sha, 1, key, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
      return redis.eval(this.#source, 1, key, ...args);
    }
  }
}

// KEYS[1]: the set of process ids; ARGV[1]: the prefix of per-process keys; ARGV[2]: the connection
// id. Returns the id of a live process holding that connection, or nil.
const LOCATE = `
local found = false
for _, node in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local base = ARGV[1] .. node
  if redis.call('EXISTS', base .. ':alive') == 0 then
    redis.call('SREM', KEYS[1], node)
  elseif not found and redis.call('HEXISTS', base .. ':conns', ARGV[2]) == 1 then
    found = node
  end
end
return found
`;

// KEYS[1]: the set of process ids; ARGV[1]: the prefix of per-process keys; ARGV[2]: the room.
// Returns the room's size summed over the live processes.
const ROOM_SIZE = `
local total = 0
for _, node in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local base = ARGV[1] .. node
  if redis.call('EXISTS', base .. ':alive') == 0 then
    redis.call('SREM', KEYS[1], node)
  else
    total = total + (tonumber(redis.call('HGET', base .. ':rooms', ARGV[2])) or 0)
  end
end
return total
`;

/** Finds the live process holding a connection id. */
export const locateScript = new Script(LOCATE);
/** Sums a room's size over the live processes. */
export const roomSizeScript = new Script(ROOM_SIZE);
