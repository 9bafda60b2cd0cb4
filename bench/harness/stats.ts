/** Small statistics helpers for run-to-run summaries. */

/** Median of a non-empty list (mean of the two middle values for even lengths). NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Summary of one metric over the runs. */
export interface Summary {
  median: number;
  min: number;
  max: number;
  /** (max - min) / median: 0 for a single run. */
  spread: number;
  runs: number;
}

/** Summarizes finite values; null when there are none. */
export function summarize(values: readonly number[]): Summary | null {
  const finite = values.filter((value) => Number.isFinite(value));
  if (finite.length === 0) return null;
  const mid = median(finite);
  const min = Math.min(...finite);
  const max = Math.max(...finite);
  return { median: mid, min, max, spread: mid === 0 ? 0 : (max - min) / Math.abs(mid), runs: finite.length };
}
