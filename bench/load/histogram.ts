/**
 * Latency histogram with logarithmic buckets (1% wide), bounded memory whatever the sample count.
 * Values are recorded in microseconds; quantiles are returned in milliseconds.
 */
const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);
/** Buckets cover 1 µs .. ~ 1e8 µs (100 s); larger values land in the last bucket. */
const BUCKETS = Math.ceil(Math.log(1e8) / LOG_GROWTH) + 1;

export class LatencyHistogram {
  #counts = new Float64Array(BUCKETS);
  #total = 0;
  #max = 0;

  /** Records one latency in milliseconds. */
  record(milliseconds: number): void {
    const micros = milliseconds * 1000;
    const index = micros <= 1 ? 0 : Math.min(BUCKETS - 1, Math.floor(Math.log(micros) / LOG_GROWTH));
    this.#counts[index]!++;
    this.#total++;
    if (milliseconds > this.#max) this.#max = milliseconds;
  }

  get count(): number {
    return this.#total;
  }

  get max(): number {
    return this.#max;
  }

  /** The q-quantile (0..1) in milliseconds (upper edge of its bucket, so within 1% above). NaN when empty. */
  quantile(q: number): number {
    if (this.#total === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(q * this.#total));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) return Math.min(this.#max, GROWTH ** (i + 1) / 1000);
    }
    return this.#max;
  }

  reset(): void {
    this.#counts.fill(0);
    this.#total = 0;
    this.#max = 0;
  }
}
