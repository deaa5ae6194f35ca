/**
 * Command-line arguments through `node:util` parseArgs, with usage errors that name what is wrong
 * (exit 64) and `-h`/`--help` on every command.
 */
import { parseArgs } from "node:util";

/** EX_USAGE (sysexits.h): the command was used incorrectly. */
export const EXIT_USAGE = 64;

export class UsageError extends Error {
  override name = "UsageError";
}

export interface CommandSpec {
  name: string;
  /** The synopsis after the command name, e.g. "<job> [--expires-in 30d]". */
  synopsis: string;
  /** One line: what the command does. */
  summary: string;
  /** More lines for `--help`: options, what it prints, exit codes. */
  details?: string;
  options?: Record<string, { type: "string" | "boolean" }>;
  positionals: { min: number; max: number; names: string };
}

export interface ParsedArgs {
  positionals: string[];
  values: Record<string, string | boolean | undefined>;
  /** -h or --help was given: print the command's help, do nothing else. */
  help: boolean;
}

export function commandHelp(spec: CommandSpec): string {
  const synopsis = `Usage: entra-wp-sync ${spec.name}${spec.synopsis ? ` ${spec.synopsis}` : ""}`;
  return [synopsis, "", spec.summary, ...(spec.details ? ["", spec.details] : [])].join("\n");
}

/**
 * Parses `argv` against the command's options. parseArgs runs non-strict so that every mistake is
 * reported here in the CLI's own words (its strict messages name neither the command nor the
 * accepted options); `--name value` and `--name=value` both work, `--` ends the options.
 */
export function parseCommandArgs(spec: CommandSpec, argv: string[]): ParsedArgs {
  const options = spec.options ?? {};
  const { positionals, values, tokens } = parseArgs({
    args: argv,
    options: { ...options, help: { type: "boolean", short: "h" } },
    allowPositionals: true,
    strict: false,
    tokens: true,
  });
  const command = spec.name;
  if (values.help === true) return { positionals, values, help: true };
  for (const token of tokens) {
    if (token.kind !== "option") continue;
    const option = options[token.name];
    if (!option) {
      const known = Object.keys(options).map((name) => `--${name}`);
      throw new UsageError(
        `${command}: unknown option ${token.rawName}${known.length ? ` (accepted: ${known.join(", ")})` : " (it takes none)"}`,
      );
    }
    if (option.type === "boolean" && token.value !== undefined) {
      throw new UsageError(`${command}: ${token.rawName} takes no value`);
    }
    // Non-strict parseArgs takes the next argument as the value even when it is another option.
    if (option.type === "string" && (!token.value || (!token.inlineValue && token.value.startsWith("--")))) {
      throw new UsageError(`${command}: ${token.rawName} needs a value`);
    }
  }
  const { min, max, names } = spec.positionals;
  if (positionals.length < min) throw new UsageError(`${command}: missing ${names}`);
  if (positionals.length > max) {
    throw new UsageError(`${command}: unexpected argument "${positionals[max]}" (expected ${names || "none"})`);
  }
  return { positionals, values, help: false };
}
