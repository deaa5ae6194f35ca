/** A log destination that keeps every line, so a test can assert what is (not) logged and debug failures. */
import { Writable } from "node:stream";

export interface LogSink {
  /** Give it to pino, makeLogger or serve({ logDestination }). */
  destination: Writable;
  lines: string[];
  /** Everything written so far, as one string. */
  text(): string;
}

export function logSink(): LogSink {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { destination, lines, text: () => lines.join("") };
}
