import { BadRequestError } from "../core/errors";

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400 } as const;
const MIN_SECONDS = 60;
const MAX_SECONDS = 3650 * 86_400;
const HINT = 'expiresIn must be a number of seconds or a duration like "30d", "12h", "15m" or "3600s"';

/**
 * "30d" | "12h" | "15m" | "3600s" | "3600" | 3600 -> seconds. A link shorter than a minute is of
 * no use to a scheduler, and ten years is as good as forever: both are refused as likely mistakes.
 */
export function parseExpiresIn(value: string | number): number {
  let seconds: number;
  if (typeof value === "number") {
    seconds = value;
  } else {
    const match = /^\s*(\d{1,12})\s*([smhd])?\s*$/i.exec(value);
    if (!match) throw new BadRequestError(`${HINT} (got "${value.slice(0, 40)}")`, { field: "expiresIn" });
    const unit = (match[2]?.toLowerCase() ?? "s") as keyof typeof UNIT_SECONDS;
    seconds = Number(match[1]) * UNIT_SECONDS[unit];
  }
  if (!Number.isInteger(seconds) || seconds < MIN_SECONDS || seconds > MAX_SECONDS) {
    throw new BadRequestError(`expiresIn must be from ${MIN_SECONDS} seconds to 3650 days`, { field: "expiresIn" });
  }
  return seconds;
}
