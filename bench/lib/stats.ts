/** Percentiles and the one table the bench prints. */

/** Nearest-rank percentile (p in 0..100) of unsorted samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export const median = (samples: readonly number[]): number => percentile(samples, 50);

export interface Row {
  what: string;
  measured: string;
  target: string;
  /** null: no target for this row (shown for comparison only). */
  pass: boolean | null;
  /** The verdict depends on the machine's speed (a ratio of timings, a time limit): withheld on a loaded machine. */
  timed?: boolean;
  /** Processes outside the bench competed for the machine while this row was measured (bench/lib/load.ts). */
  loaded?: boolean;
}

/** Timed rows measured while the machine was loaded from outside the bench get no PASS or MISS. */
export function renderTable(rows: readonly Row[]): string {
  const head: Row = { what: "row", measured: "measured", target: "target", pass: null };
  const verdict = (row: Row): string => {
    if (row.pass === null) return "-";
    if (row.loaded && row.timed) return "no verdict (load)";
    return row.pass ? "PASS" : "MISS";
  };
  const cells = [head, ...rows].map((row, i) => [
    row.what,
    row.measured,
    row.target,
    i === 0 ? "result" : verdict(row),
  ]);
  const widths = [0, 1, 2, 3].map((c) => Math.max(...cells.map((line) => line[c]!.length)));
  const line = (values: string[]) => `| ${values.map((v, c) => v.padEnd(widths[c]!)).join(" | ")} |`;
  return [line(cells[0]!), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...cells.slice(1).map(line)].join(
    "\n",
  );
}

export const ms = (value: number, digits = 0): string => `${value.toFixed(digits)} ms`;
