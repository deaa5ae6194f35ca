/** Command-line arguments: positionals and --flags, with usage errors that name what is wrong (exit 64). */

/** EX_USAGE (sysexits.h): the command was used incorrectly. */
export const EXIT_USAGE = 64;

export class UsageError extends Error {
  override name = "UsageError";
}

export interface ParsedArgs {
  positionals: string[];
  flags: Map<string, string | true>;
}

/**
 * Parses `argv` against the flags a command accepts: `valued` take a value (`--expires-in 30d` or
 * `--expires-in=30d`), `switches` take none. Anything else starting with "-" is refused.
 */
export function parseArgs(
  command: string,
  argv: string[],
  spec: { valued?: string[]; switches?: string[]; positionals: { min: number; max: number; names: string } },
): ParsedArgs {
  const valued = new Set(spec.valued ?? []);
  const switches = new Set(spec.switches ?? []);
  const positionals: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (valued.has(name)) {
      const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined || value === "" || (eq < 0 && value.startsWith("--"))) {
        throw new UsageError(`${command}: ${name} needs a value`);
      }
      flags.set(name, value);
    } else if (switches.has(name)) {
      if (eq > 0) throw new UsageError(`${command}: ${name} takes no value`);
      flags.set(name, true);
    } else {
      const known = [...valued, ...switches];
      throw new UsageError(
        `${command}: unknown option ${name}${known.length ? ` (accepted: ${known.join(", ")})` : " (it takes none)"}`,
      );
    }
  }
  const { min, max, names } = spec.positionals;
  if (positionals.length < min) throw new UsageError(`${command}: missing ${names}`);
  if (positionals.length > max) {
    throw new UsageError(`${command}: unexpected argument "${positionals[max]}" (expected ${names || "none"})`);
  }
  return { positionals, flags };
}
