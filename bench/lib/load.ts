/**
 * The machine's load average, read where the bench measures: a ratio or a time measured while more
 * runnable processes than cores competed for them says more about the neighbours than about the
 * service, so the bench withholds its verdict then (loadedBeyondCores) and prints the numbers.
 */
import os from "node:os";

const cores = os.cpus().length;
let highest = 0;

/** The 1, 5 and 15 minute load averages now, as printed ("0.52 0.61 0.70"); remembered for loadedBeyondCores. */
export function loadNow(): string {
  const averages = os.loadavg();
  highest = Math.max(highest, averages[0]!);
  return averages.map((l) => l.toFixed(2)).join(" ");
}

/** Whether any 1-minute load average read so far exceeded the number of cores. */
export function loadedBeyondCores(): boolean {
  return highest > cores;
}

export const coreCount = cores;
