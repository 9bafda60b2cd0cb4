/**
 * The results chart as plain SVG: one panel per scenario, one bar per target (median), a whisker
 * for the run-to-run range, a dashed line at raw ws, and the ratio to raw ws beside each bar.
 * Bars far beyond raw ws are cut at 2.5x its value and marked, so the Node.js targets stay legible.
 */
import { ratio, type Cell } from "./aggregate.js";
import { formatNumber, formatRatio } from "./format.js";
import type { Scenario } from "./scenarios.js";
import { runsIn, type Target, type TargetGroup } from "./targets.js";

const COLORS: Record<TargetGroup, string> = { wsmount: "#2563eb", baseline: "#111827", peer: "#9ca3af", native: "#d97706" };
const PANEL_WIDTH = 470;
const LABEL_WIDTH = 150;
const VALUE_WIDTH = 120;
const ROW = 20;
const BAR = 13;
const PANEL_HEAD = 44;
const GAP = 24;
const COLUMNS = 2;
const CUT = 2.5;

function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function text(x: number, y: number, content: string, attributes = ""): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attributes}>${escape(content)}</text>`;
}

function panel(scenario: Scenario, targets: readonly Target[], cells: Map<string, Cell>, unavailable: Set<string>): string {
  const parts: string[] = [];
  const reference = cells.get("ws");
  const values = targets.map((target) => cells.get(target.id)?.summary?.max ?? 0);
  const referenceValue = reference?.summary?.median;
  const top = Math.max(...values, 0);
  const axisMax = referenceValue ? Math.min(top, referenceValue * CUT) : top;
  const plotWidth = PANEL_WIDTH - LABEL_WIDTH - VALUE_WIDTH;
  const scale = (value: number): number => (axisMax > 0 ? (Math.min(value, axisMax) / axisMax) * plotWidth : 0);
  const better = scenario.metric.better === "higher" ? "higher is better" : "lower is better";
  parts.push(text(0, 16, scenario.title, 'font-size="14" font-weight="600"'));
  parts.push(text(0, 32, `${scenario.metric.name}, ${better}; ratio to raw ws`, 'font-size="11" fill="#6b7280"'));
  // The raw ws line goes first so that bars and labels are drawn over it.
  if (referenceValue) {
    const x = LABEL_WIDTH + scale(referenceValue);
    const bottom = PANEL_HEAD + targets.length * ROW - 4;
    parts.push(`<path d="M${x.toFixed(1)} ${PANEL_HEAD - 4} V${bottom}" stroke="#111827" stroke-dasharray="3 3" stroke-width="1"/>`);
  }

  targets.forEach((target, index) => {
    const y = PANEL_HEAD + index * ROW;
    const cell = cells.get(target.id);
    const weight = target.group === "wsmount" ? ' font-weight="600"' : "";
    parts.push(text(LABEL_WIDTH - 8, y + BAR - 2, target.label, `font-size="11" text-anchor="end"${weight}`));
    if (!cell?.summary) {
      const why = unavailable.has(target.id) ? "not run" : cell && cell.failures.length > 0 ? "failed" : "not run";
      parts.push(text(LABEL_WIDTH + 4, y + BAR - 2, why, 'font-size="11" fill="#b91c1c" font-style="italic"'));
      return;
    }
    const { median, min, max } = cell.summary;
    const width = Math.max(1, scale(median));
    parts.push(`<rect x="${LABEL_WIDTH}" y="${y}" width="${width.toFixed(1)}" height="${BAR}" fill="${COLORS[target.group]}" rx="1"/>`);
    if (median > axisMax) {
      // Cut bar: two white slashes near its end.
      const x = LABEL_WIDTH + width - 10;
      parts.push(`<path d="M${x} ${y + BAR} l4 -${BAR} M${x + 4} ${y + BAR} l4 -${BAR}" stroke="#fff" stroke-width="2"/>`);
    }
    if (max > min) {
      const whiskerY = y + BAR / 2;
      const x1 = LABEL_WIDTH + scale(min);
      const x2 = LABEL_WIDTH + scale(max);
      parts.push(
        `<path d="M${x1.toFixed(1)} ${whiskerY} H${x2.toFixed(1)} M${x1.toFixed(1)} ${whiskerY - 3} v6 M${x2.toFixed(1)} ${whiskerY - 3} v6" stroke="#374151" stroke-width="1"/>`,
      );
    }
    const relative = ratio(cell, reference);
    const label = `${formatNumber(scenario, median)}${relative === undefined || target.id === "ws" ? "" : ` \u00b7 ${formatRatio(relative)}`}`;
    // A white halo keeps the label legible where it crosses the dashed raw-ws line.
    parts.push(
      text(LABEL_WIDTH + Math.min(plotWidth, Math.max(width, scale(max))) + 5, y + BAR - 2, label, 'font-size="11" stroke="#fff" stroke-width="3" paint-order="stroke"'),
    );
  });
  return parts.join("\n");
}

/** Renders the chart. `cells` maps scenario id -> target id -> cell. */
export function renderChart(options: {
  scenarios: readonly Scenario[];
  targets: readonly Target[];
  cells: Map<string, Map<string, Cell>>;
  unavailable: Set<string>;
  caption: string;
  quick: boolean;
}): string {
  const { scenarios, targets, cells, unavailable, caption, quick } = options;
  const panelHeight = PANEL_HEAD + Math.max(...scenarios.map((scenario) => targets.filter((target) => runsIn(target, scenario.id)).length)) * ROW + 8;
  const rows = Math.ceil(scenarios.length / COLUMNS);
  const width = COLUMNS * PANEL_WIDTH + (COLUMNS - 1) * GAP + 2 * GAP;
  const legendY = 30;
  const top = 62;
  const height = top + rows * (panelHeight + GAP) + 30;
  const legend = (
    [
      ["wsmount", "wsmount"],
      ["baseline", "raw ws (dashed line)"],
      ["peer", "peers"],
      ["native", "uWebSockets.js (native)"],
    ] as Array<[TargetGroup, string]>
  )
    .map(([group, name], index) => {
      const x = GAP + index * 170;
      return `<rect x="${x}" y="${legendY + 8}" width="12" height="12" fill="${COLORS[group]}"/>${text(x + 17, legendY + 18, name, 'font-size="12"')}`;
    })
    .join("\n");
  const panels = scenarios
    .map((scenario, index) => {
      const x = GAP + (index % COLUMNS) * (PANEL_WIDTH + GAP);
      const y = top + Math.floor(index / COLUMNS) * (panelHeight + GAP);
      return `<g transform="translate(${x} ${y})">\n${panel(scenario, targets.filter((target) => runsIn(target, scenario.id)), cells.get(scenario.id) ?? new Map(), unavailable)}\n</g>`;
    })
    .join("\n");
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif" fill="#111827">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    text(
      GAP,
      24,
      quick ? "wsmount vs peers: QUICK RUN (one short run, indicative only); ratio = target / raw ws" : "wsmount vs peers: medians, whiskers = run-to-run range, ratio = target / raw ws",
      `font-size="15" font-weight="600"${quick ? ' fill="#b91c1c"' : ""}`,
    ),
    legend,
    panels,
    text(GAP, height - 12, caption, 'font-size="11" fill="#6b7280"'),
    "</svg>",
    "",
  ].join("\n");
}
