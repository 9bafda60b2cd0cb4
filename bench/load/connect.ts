/** Opening many load connections with bounded concurrency. */
import { Client, type ClientOptions } from "./client.js";
import { loopbackSources } from "./wire.js";

/** Result of {@link connectAll}. */
export interface Connected {
  clients: Client[];
  failed: number;
  refusals: string[];
  elapsedMs: number;
}

/**
 * Opens `count` clients, at most `concurrency` handshakes at a time, spreading source addresses
 * over `sources` loopback addresses. Resolves when all are ready or failed, or at `timeoutMs`
 * (the ones not ready by then count as failed and are destroyed).
 */
export function connectAll(
  options: Omit<ClientOptions, "localAddress">,
  count: number,
  concurrency: number,
  sources: number,
  timeoutMs: number,
): Promise<Connected> {
  const addresses = loopbackSources(sources);
  const started = performance.now();
  const clients: Client[] = [];
  const refusals: string[] = [];
  let failed = 0;
  let launched = 0;
  let settled = 0;
  return new Promise((resolve) => {
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      for (const client of clients) {
        if (!client.ready) {
          client.destroy();
          failed++;
        }
      }
      resolve({ clients: clients.filter((client) => client.ready), failed, refusals, elapsedMs: performance.now() - started });
    };
    const timer = setTimeout(finish, timeoutMs);
    const launch = (): void => {
      while (launched < count && launched - settled < concurrency) {
        const client = new Client({ ...options, localAddress: addresses[launched % addresses.length]! });
        launched++;
        let counted = false;
        client.onReady = () => {
          if (counted) return;
          counted = true;
          settled++;
          if (settled === count) finish();
          else launch();
        };
        client.onClosed = (error) => {
          if (counted) return;
          counted = true;
          settled++;
          failed++;
          if (refusals.length < 5) refusals.push(client.wire.refusal || error?.message || "closed before ready");
          if (settled === count) finish();
          else launch();
        };
        clients.push(client);
      }
    };
    if (count === 0) finish();
    else launch();
  });
}
