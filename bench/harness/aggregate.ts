/** Turns the run records into one cell per (scenario, target): medians, spread, side numbers. */
import type { ScenarioId } from "../load/spec.js";
import type { RunRecord } from "./runner.js";
import { median, summarize, type Summary } from "./stats.js";

export interface Cell {
  target: string;
  scenario: ScenarioId;
  summary: Summary | null;
  /** Error messages of failed runs (first line each). */
  failures: string[];
  serverCpu?: number;
  loadCpu?: number;
  serverWait?: number;
  microsPerOp?: number;
  /** The part of microsPerOp on the server's main thread (the rest: V8's helper threads). */
  mainMicrosPerOp?: number;
  /** Server minor page faults per operation. */
  faultsPerOp?: number;
  p50?: number;
  p99?: number;
  compressedShare?: number;
  heapPerConnection?: number;
  marginalRssPerConnection?: number;
  marginalHeapPerConnection?: number;
  probe?: string;
}

function medianOf(values: Array<number | undefined>): number | undefined {
  const present = values.filter((value): value is number => value !== undefined && Number.isFinite(value));
  return present.length === 0 ? undefined : median(present);
}

/** Cell for one pair; `summary` is null when no run produced a value. */
export function cellFor(records: readonly RunRecord[], scenario: ScenarioId, target: string): Cell {
  const mine = records.filter((record) => record.scenario === scenario && record.target === target);
  const ok = mine.filter((record) => record.value !== undefined);
  const cell: Cell = {
    target,
    scenario,
    summary: summarize(ok.map((record) => record.value!)),
    failures: mine.filter((record) => record.value === undefined).map((record) => (record.error ?? "no value").split("\n")[0]!),
  };
  const set = <K extends keyof Cell>(key: K, value: Cell[K] | undefined): void => {
    if (value !== undefined) cell[key] = value;
  };
  set("serverCpu", medianOf(ok.map((record) => record.serverCpu)));
  set("loadCpu", medianOf(ok.map((record) => record.loadCpu)));
  set("serverWait", medianOf(ok.map((record) => record.serverWait)));
  set("microsPerOp", medianOf(ok.map((record) => record.serverMicrosPerOp)));
  set("mainMicrosPerOp", medianOf(ok.map((record) => record.serverMainMicrosPerOp)));
  set("faultsPerOp", medianOf(ok.map((record) => record.serverFaultsPerOp)));
  set("p50", medianOf(ok.map((record) => record.load?.latencyMs?.p50)));
  set("p99", medianOf(ok.map((record) => record.load?.latencyMs?.p99)));
  set("compressedShare", medianOf(ok.map((record) => record.load?.compressedShare)));
  set("heapPerConnection", medianOf(ok.map((record) => record.memory?.heapPerConnection)));
  set("marginalRssPerConnection", medianOf(ok.map((record) => record.memory?.marginalRssPerConnection)));
  set("marginalHeapPerConnection", medianOf(ok.map((record) => record.memory?.marginalHeapPerConnection)));
  set("probe", mine.find((record) => record.load?.probe)?.load?.probe?.detail);
  return cell;
}

/** Median of subject over median of reference, or undefined when either is missing. */
export function ratio(subject: Cell | undefined, reference: Cell | undefined): number | undefined {
  if (!subject?.summary || !reference?.summary || reference.summary.median === 0) return undefined;
  return subject.summary.median / reference.summary.median;
}

/** How many times cheaper in server CPU per operation subject is than reference (reference / subject µs/op). */
export function costRatio(subject: Cell | undefined, reference: Cell | undefined): number | undefined {
  if (subject?.microsPerOp === undefined || reference?.microsPerOp === undefined || subject.microsPerOp === 0) return undefined;
  return reference.microsPerOp / subject.microsPerOp;
}
