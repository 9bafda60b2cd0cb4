import { describe, expect, it } from "vitest";
import { margin, type Check } from "../harness/checks.js";
import { median, summarize } from "../harness/stats.js";
import { LatencyHistogram } from "../load/histogram.js";

describe("median and summarize", () => {
  it("takes the middle value, or the mean of the two middle ones", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it("reports min, max and spread relative to the median, ignoring non-finite values", () => {
    expect(summarize([90, 100, 110, Number.NaN])).toEqual({ median: 100, min: 90, max: 110, spread: 0.2, runs: 3 });
    expect(summarize([Number.NaN])).toBeNull();
  });
});

describe("LatencyHistogram", () => {
  it("returns quantiles within its 1% bucket width", () => {
    const histogram = new LatencyHistogram();
    for (let i = 1; i <= 10_000; i++) histogram.record(i / 100); // 0.01 ms .. 100 ms, uniform
    expect(histogram.count).toBe(10_000);
    expect(histogram.quantile(0.5)).toBeGreaterThanOrEqual(50);
    expect(histogram.quantile(0.5)).toBeLessThanOrEqual(50 * 1.01);
    expect(histogram.quantile(0.99)).toBeGreaterThanOrEqual(99);
    expect(histogram.quantile(0.99)).toBeLessThanOrEqual(99 * 1.01);
    expect(histogram.max).toBe(100);
  });

  it("is empty after reset", () => {
    const histogram = new LatencyHistogram();
    histogram.record(5);
    histogram.reset();
    expect(histogram.count).toBe(0);
    expect(histogram.quantile(0.5)).toBeNaN();
  });
});

describe("margin of a check", () => {
  const higher: Check = { kind: "echo", scenario: "echo", subject: "a", reference: "b", op: ">=", factor: 0.95 };
  const lower: Check = { kind: "memory", scenario: "idle-memory", subject: "a", reference: "b", op: "<=", factor: 1.1 };

  it("is positive when met and negative by the missing share when not", () => {
    expect(margin(higher, 0.95)).toBeCloseTo(0);
    expect(margin(higher, 0.76)).toBeCloseTo(-0.2);
    expect(margin(lower, 1.0)).toBeCloseTo(0.1);
    expect(margin(lower, 2.2)).toBeCloseTo(-0.5);
  });
});
