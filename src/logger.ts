/**
 * pino, JSON in production and pretty only on a TTY. Secrets never reach the output:
 * - known secret fields are redacted by path (headers, config, bodies);
 * - `token=...` in any URL is replaced, wherever the URL appears (message or field);
 * - the configured secret values themselves are scrubbed from every line as a last line of defence
 *   (a library error message that echoes a secret would otherwise leak it).
 */
import pino, { type DestinationStream, type Logger } from "pino";

export type { Logger };

const REDACT_PATHS = [
  "req.headers.authorization",
  "req.headers.cookie",
  "headers.authorization",
  "*.authorization",
  "*.Authorization",
  "password",
  "*.password",
  "appPassword",
  "*.appPassword",
  "clientSecret",
  "*.clientSecret",
  "client_secret",
  "adminToken",
  "*.adminToken",
  "token",
  "*.token",
  "secret",
  "*.secret",
  "linkSigningKeys",
  "*.linkSigningKeys",
];

const TOKEN_IN_URL = /([?&](?:token|access_token|code|client_secret|\$skiptoken|\$deltatoken)=)[^&\s"]+/gi;

export function redactUrl(url: string): string {
  return url.replace(TOKEN_IN_URL, "$1[REDACTED]");
}

function makeScrubber(secrets: string[]): (line: string) => string {
  const values = secrets.filter((s) => s.length >= 8).sort((a, b) => b.length - a.length);
  return (line) => {
    let out = redactUrl(line);
    for (const value of values) out = out.split(value).join("[REDACTED]");
    return out;
  };
}

export interface LoggerOptions {
  level: string;
  /** Values to scrub from every line (from config.secretsOf plus generated ones). */
  secrets?: string[];
  /** Test hook: write here instead of stdout. */
  destination?: DestinationStream;
  pretty?: boolean;
}

/**
 * A mutable list of secrets: values generated after start-up (admin token, signing keys) are
 * added so they are scrubbed too.
 */
export interface SecretRegistry {
  add(value: string): void;
}

export function makeLogger(options: LoggerOptions): Logger & { secrets: SecretRegistry } {
  const secrets = [...(options.secrets ?? [])];
  let scrub = makeScrubber(secrets);
  const pretty = options.pretty ?? (process.stdout.isTTY === true && !options.destination);
  const target: DestinationStream = options.destination ?? (pretty ? prettyStream() : pino.destination(1));
  const scrubbing: DestinationStream = { write: (line: string) => target.write(scrub(line)) };
  const logger = pino(
    {
      level: options.level,
      redact: { paths: REDACT_PATHS, censor: "[REDACTED]" },
      serializers: {
        req: (req: { id?: string; method?: string; url?: string; ip?: string }) => ({
          id: req.id,
          method: req.method,
          url: req.url ? redactUrl(req.url) : req.url,
          ip: req.ip,
        }),
        err: pino.stdSerializers.err,
      },
    },
    scrubbing,
  );
  const registry: SecretRegistry = {
    add(value) {
      if (value && !secrets.includes(value)) {
        secrets.push(value);
        scrub = makeScrubber(secrets);
      }
    },
  };
  return Object.assign(logger, { secrets: registry });
}

function prettyStream(): DestinationStream {
  // pino-pretty only on a TTY: a human is watching; everywhere else JSON for log shippers.
  const pinoPretty = require("pino-pretty") as (opts: object) => DestinationStream;
  return pinoPretty({ colorize: true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname" });
}
