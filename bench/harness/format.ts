/** Number formatting shared by the console log, RESULTS.md and the chart. */
import type { Scenario } from "./scenarios.js";

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

/** Compact form for tables and labels: 181,524 / 1,047 / 12.3 KiB. */
export function formatNumber(scenario: Scenario, value: number): string {
  if (scenario.metric.unit === "B/conn") return formatBytes(value);
  return integer.format(value);
}

/** Value with its unit, for logs. */
export function formatValue(scenario: Scenario, value: number): string {
  return scenario.metric.unit === "B/conn" ? `${formatBytes(value)}/conn` : `${integer.format(value)} ${scenario.metric.unit}`;
}

/** Bytes as B / KiB / MiB with one decimal. */
export function formatBytes(bytes: number): string {
  const size = Math.abs(bytes);
  if (size >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  if (size >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${Math.round(bytes)} B`;
}

/** Ratio as "1.23x". */
export function formatRatio(ratio: number): string {
  return `${ratio >= 10 ? ratio.toFixed(1) : ratio.toFixed(2)}x`;
}

/** Share as "12%" ("<1%" for small non-zero shares). */
export function formatPercent(share: number): string {
  if (share !== 0 && Math.abs(share) < 0.005) return "<1%";
  return `${Math.round(share * 100)}%`;
}
