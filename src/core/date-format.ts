/**
 * .NET custom date and time format strings, as Entra's FormatDateTime takes them
 * ("yyyyMMddHHmmss.fZ" -> "yyyy-MM-dd"), with the invariant culture: English month and day names,
 * ":" and "/" as separators. Letters that are not specifiers ("Z", "T") are literal, as in .NET.
 * The wall-clock time is kept as written: an input offset is carried to z/zzz/K, never converted.
 */

type Token = { field: string } | { literal: string };

interface DateParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** Fraction of a second as written, digits only ("1" for .1). */
  fraction: string;
  /** Minutes east of UTC, or null when the input had none. */
  offset: number | null;
}

const MONTHS = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];
const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const SPECIFIERS = "yMdHhmsfFtzK";

/** The format's tokens, or the reason it is not one this service can read. */
export function parseDateFormat(format: string): { tokens: Token[]; problem: string | null } {
  if (format.length === 1) {
    return { tokens: [], problem: `"${format}" is a .NET standard format; write a custom one such as "yyyy-MM-dd"` };
  }
  const tokens: Token[] = [];
  for (let i = 0; i < format.length; ) {
    const ch = format[i]!;
    if (ch === "'" || ch === '"') {
      const end = format.indexOf(ch, i + 1);
      if (end < 0) return { tokens, problem: `the quote at ${i + 1} of the date format "${format}" is never closed` };
      tokens.push({ literal: format.slice(i + 1, end) });
      i = end + 1;
    } else if (ch === "\\") {
      tokens.push({ literal: format[i + 1] ?? "" });
      i += 2;
    } else if (SPECIFIERS.includes(ch)) {
      let end = i;
      while (format[end] === ch) end++;
      const field = format.slice(i, end);
      if ((ch === "f" || ch === "F") && field.length > 7) {
        return { tokens, problem: `"${field}" in the date format "${format}": at most 7 fraction digits` };
      }
      tokens.push({ field });
      i = end;
    } else {
      tokens.push({ literal: ch });
      i++;
    }
  }
  return { tokens, problem: null };
}

const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

function pattern(field: string): string {
  const n = field.length;
  switch (field[0]) {
    case "y":
      return n <= 2 ? `(\\d{${n === 1 ? "1,2" : "2"}})` : `(\\d{${Math.max(n, 4)}})`;
    case "M":
      return n >= 3
        ? `(${MONTHS.map((m) => (n === 3 ? m.slice(0, 3) : m)).join("|")})`
        : `(\\d{${n === 1 ? "1,2" : "2"}})`;
    case "d":
      return n >= 3
        ? `(?:${DAYS.map((d) => (n === 3 ? d.slice(0, 3) : d)).join("|")})()`
        : `(\\d{${n === 1 ? "1,2" : "2"}})`;
    case "f":
      return `(\\d{${n}})`;
    case "F":
      return `(\\d{0,${n}})`;
    case "t":
      return n === 1 ? "([AP])" : "(AM|PM)";
    case "z":
      return n === 3 ? "([+-]\\d{2}:\\d{2})" : n === 2 ? "([+-]\\d{2})" : "([+-]\\d{1,2})";
    case "K":
      return "(Z|[+-]\\d{2}:\\d{2})?";
    default: // H h m s
      return `(\\d{${n === 1 ? "1,2" : "2"}})`;
  }
}

function read(tokens: Token[], input: string): DateParts | null {
  const fields = tokens.filter((t): t is { field: string } => "field" in t);
  const regex = new RegExp(
    `^\\s*${tokens.map((t) => ("field" in t ? pattern(t.field) : escapeRegex(t.literal))).join("")}\\s*$`,
    "i",
  );
  const match = regex.exec(input);
  if (!match) return null;
  const parts: DateParts = { year: 1, month: 1, day: 1, hour: 0, minute: 0, second: 0, fraction: "", offset: null };
  let pm: boolean | null = null;
  fields.forEach(({ field }, index) => {
    const text = match[index + 1] ?? "";
    const number = Number(text);
    switch (field[0]) {
      case "y":
        parts.year = field.length <= 2 ? (number <= 29 ? 2000 + number : 1900 + number) : number;
        break;
      case "M":
        parts.month =
          field.length >= 3 ? MONTHS.findIndex((m) => m.toLowerCase().startsWith(text.toLowerCase())) + 1 : number;
        break;
      case "d":
        if (field.length <= 2) parts.day = number;
        break;
      case "H":
      case "h":
        parts.hour = number;
        break;
      case "m":
        parts.minute = number;
        break;
      case "s":
        parts.second = number;
        break;
      case "f":
      case "F":
        parts.fraction = text;
        break;
      case "t":
        pm = text.toUpperCase().startsWith("P");
        break;
      case "z":
      case "K":
        parts.offset = text === "" ? null : offsetMinutes(text);
        break;
    }
  });
  if (pm !== null) parts.hour = (parts.hour % 12) + (pm ? 12 : 0);
  const check = new Date(Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second));
  check.setUTCFullYear(parts.year);
  const valid =
    check.getUTCMonth() === parts.month - 1 && check.getUTCDate() === parts.day && check.getUTCHours() === parts.hour;
  return valid && parts.minute < 60 && parts.second < 60 ? parts : null;
}

function offsetMinutes(text: string): number {
  if (text.toUpperCase() === "Z") return 0;
  const [hours, minutes] = text.slice(1).split(":");
  return (text[0] === "-" ? -1 : 1) * (Number(hours) * 60 + Number(minutes ?? 0));
}

const pad = (value: number, width: number) => String(value).padStart(width, "0");

function render(field: string, p: DateParts): string {
  const n = field.length;
  const hour12 = p.hour % 12 === 0 ? 12 : p.hour % 12;
  const offset = p.offset ?? 0;
  const sign = offset < 0 ? "-" : "+";
  switch (field[0]) {
    case "y":
      return n === 1 ? String(p.year % 100) : n === 2 ? pad(p.year % 100, 2) : pad(p.year, n);
    case "M":
      return n >= 3 ? (n === 3 ? MONTHS[p.month - 1]!.slice(0, 3) : MONTHS[p.month - 1]!) : pad(p.month, n);
    case "d": {
      if (n <= 2) return pad(p.day, n);
      const day = DAYS[new Date(Date.UTC(p.year, p.month - 1, p.day)).getUTCDay()]!;
      return n === 3 ? day.slice(0, 3) : day;
    }
    case "H":
      return pad(p.hour, Math.min(n, 2));
    case "h":
      return pad(hour12, Math.min(n, 2));
    case "m":
      return pad(p.minute, Math.min(n, 2));
    case "s":
      return pad(p.second, Math.min(n, 2));
    case "f":
      return p.fraction.padEnd(n, "0").slice(0, n);
    case "F":
      return p.fraction.slice(0, n).replace(/0+$/, "");
    case "t":
      return (p.hour < 12 ? "AM" : "PM").slice(0, n === 1 ? 1 : 2);
    case "z": {
      const hours = Math.trunc(Math.abs(offset) / 60);
      if (n === 1) return `${sign}${hours}`;
      return n === 2 ? `${sign}${pad(hours, 2)}` : `${sign}${pad(hours, 2)}:${pad(Math.abs(offset) % 60, 2)}`;
    }
    default: // K
      return p.offset === null ? "" : p.offset === 0 ? "Z" : render("zzz", p);
  }
}

/** The source date, read with inputFormat and written with outputFormat; null when it does not match. */
export function formatDateTime(source: string | null, inputFormat: string, outputFormat: string): string | null {
  if (source === null) return null;
  const input = parseDateFormat(inputFormat);
  const output = parseDateFormat(outputFormat);
  if (input.problem || output.problem) return null;
  const parts = read(input.tokens, source);
  if (parts === null) return null;
  return output.tokens.map((t) => ("field" in t ? render(t.field, parts) : t.literal)).join("");
}
