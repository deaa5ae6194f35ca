/**
 * Where the CLI's in-process runtime logs: one readable line per entry on stderr
 * ("error: run failed: …: WordPress refused the application password"), not pino's JSON with a
 * stack trace in the middle of `run`'s progress lines. Lines arrive already scrubbed of secrets
 * (logger.ts scrubs before the destination). LOG_LEVEL debug or trace keeps the JSON, stacks and
 * all, for whoever asked for the detail.
 */
import type { DestinationStream } from "pino";

const LEVELS: Record<number, string> = {
  10: "trace",
  20: "debug",
  30: "info",
  40: "warning",
  50: "error",
  60: "fatal",
};

/** One pino JSON line as `level: message: error message`; anything else unchanged. */
export function readableLogLine(line: string): string {
  let entry: { level?: number; msg?: string; err?: { message?: string } };
  try {
    entry = JSON.parse(line);
  } catch {
    return line;
  }
  const level = LEVELS[entry.level ?? 0] ?? "log";
  const parts = [entry.msg, entry.err?.message].filter((part): part is string => Boolean(part));
  // A message that already quotes its error's message says it once.
  const text = parts.length === 2 && parts[0]!.includes(parts[1]!) ? parts[0]! : parts.join(": ");
  return `${level}: ${text.replace(/\s*\n\s*/g, " ")}\n`;
}

export function readableLogDestination(write: (text: string) => void): DestinationStream {
  return { write: (line: string) => write(readableLogLine(line)) };
}
