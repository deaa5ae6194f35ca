import type { SimIdentity } from "./customer";

/**
 * Deterministic user generation. A base user is a pure function of (seed, index), so a tenant of
 * 100,000 users costs no memory until a user is mutated; only overrides are stored (see tenant.ts).
 */

export interface SimUser {
  id: string;
  userPrincipalName: string;
  mail: string | null;
  givenName: string | null;
  surname: string | null;
  displayName: string;
  jobTitle: string | null;
  department: string | null;
  accountEnabled: boolean;
  userType: "Member" | "Guest";
  employeeId: string | null;
  businessPhones: string[];
  mobilePhone: string | null;
  officeLocation: string | null;
  preferredLanguage: string | null;
  createdDateTime: string;
  employeeType: string | null;
  companyName: string | null;
  onPremisesExtensionAttributes: Record<string, string | null>;
  /** attribute set -> attribute -> value; readable only with CustomSecAttributeAssignment.Read.All. */
  customSecurityAttributes: Record<string, Record<string, unknown>> | null;
  /** Directory schema extensions, extension_<appId without dashes>_<name> -> value; unset ones are left out. */
  extensions: Record<string, unknown>;
  /** Not a property: the manager relationship, read with $expand=manager. */
  managerId: string | null;
  /** Customer tenants (customer.ts); absent in a workforce tenant's generated users. */
  identities?: SimIdentity[];
  otherMails: string[];
}

/** Every property /users can return; anything else in $select is a 400, as in Graph. */
export const USER_PROPERTIES: ReadonlySet<string> = new Set([
  "id",
  "userPrincipalName",
  "mail",
  "givenName",
  "surname",
  "displayName",
  "jobTitle",
  "department",
  "accountEnabled",
  "userType",
  "employeeId",
  "businessPhones",
  "mobilePhone",
  "officeLocation",
  "preferredLanguage",
  "createdDateTime",
  "employeeType",
  "companyName",
  "otherMails",
  "onPremisesExtensionAttributes",
  "customSecurityAttributes",
  "identities",
]);

/** A directory schema extension property as Graph names it (extension_<appId without dashes>_<name>). */
export const EXTENSION_PROPERTY = /^extension_[0-9a-f]{32}_[A-Za-z0-9_]+$/;

/** What Graph returns without $select (user-list.md). accountEnabled, department... need $select. */
export const DEFAULT_SELECT: readonly string[] = [
  "businessPhones",
  "displayName",
  "givenName",
  "id",
  "jobTitle",
  "mail",
  "mobilePhone",
  "officeLocation",
  "preferredLanguage",
  "surname",
  "userPrincipalName",
];

export interface Population {
  users: number;
  seed: number;
  guests: number;
  disabled: number;
  withoutMail: number;
  domain: string;
}

// Index 0.. pick these in order, so even a five-user tenant has an apostrophe and non-ASCII names.
const GIVEN = ["Zoë", "Łukasz", "Taro", "Seán", "Adele", "Chloé", "Jürgen", "Amélie", "Nguyễn", "Megan", "Ödön", "Lee"];
const SURNAMES = ["O'Brien", "Nowak", "山田", "Müller", "Vance", "D'Angelo", "García", "Søren", "Smith", "Kowalczyk"];
const DEPARTMENTS = ["Engineering", "Sales", "Retail", "Finance", "Human Resources", "R&D", null];
const TITLES = ["Engineer", "Retail Manager", "Accountant", "Sales Lead", null];
const GUEST_DOMAINS = ["fabrikam.com", "example.org", "partner.co.uk"];

/** 32-bit integer mix (murmur3 finaliser); stable across runs and platforms. */
export function mix32(a: number, b: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x632be5ab, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const hex = (n: number, width: number) => n.toString(16).padStart(width, "0").slice(-width);

/** A GUID whose last group is the index, so lookup by id needs no map (see indexOfId). */
export function userId(seed: number, index: number): string {
  const a = mix32(seed, index);
  const b = mix32(a, index);
  return `${hex(a, 8)}-${hex(b >>> 16, 4)}-4${hex(b, 3)}-8${hex(a >>> 4, 3)}-${hex(index, 12)}`;
}

export function indexOfId(id: string): number | undefined {
  const m = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-8[0-9a-f]{3}-([0-9a-f]{12})$/.exec(id);
  return m?.[1] === undefined ? undefined : Number.parseInt(m[1], 16);
}

/** Exactly `count` of `n` indices, spread evenly; `salt` shifts the pattern so traits rarely coincide. */
export function isPicked(index: number, count: number, n: number, salt: number): boolean {
  if (count <= 0 || n <= 0) return false;
  const j = (index + salt) % n;
  return Math.floor(((j + 1) * count) / n) > Math.floor((j * count) / n);
}

function ascii(s: string): string {
  return s
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .replace(/Ł/g, "L")
    .replace(/ł/g, "l")
    .replace(/ø/g, "o")
    .replace(/[^A-Za-z0-9'.-]/g, "")
    .toLowerCase();
}

export function generateUser(p: Population, index: number): SimUser {
  const r = mix32(p.seed + 1, index);
  const given = GIVEN[(index + p.seed) % GIVEN.length]!;
  const surname = SURNAMES[(index + Math.floor(index / GIVEN.length) + p.seed) % SURNAMES.length]!;
  const local = `${ascii(given) || "user"}.${ascii(surname) || "yamada"}${index}`;
  const guest = isPicked(index, p.guests, p.users, 7);
  const guestDomain = GUEST_DOMAINS[r % GUEST_DOMAINS.length]!;
  const upn = guest ? `${local}_${guestDomain}#EXT#@${p.domain}` : `${local}@${p.domain}`;
  const noMail = isPicked(index, p.withoutMail, p.users, 3);
  return {
    id: userId(p.seed, index),
    userPrincipalName: upn,
    mail: noMail ? null : guest ? `${local}@${guestDomain}` : `${local}@${p.domain}`,
    givenName: given,
    surname,
    displayName: `${given} ${surname}`,
    jobTitle: TITLES[r % TITLES.length] ?? null,
    department: guest ? null : (DEPARTMENTS[(r >>> 8) % DEPARTMENTS.length] ?? null),
    accountEnabled: !isPicked(index, p.disabled, p.users, 11),
    userType: guest ? "Guest" : "Member",
    employeeId: guest ? null : String(100000 + index),
    businessPhones: r % 3 === 0 ? [] : [`+1 425 555 ${hex(r % 10000, 4)}`],
    mobilePhone: null,
    officeLocation: r % 2 === 0 ? "Building 18" : null,
    preferredLanguage: r % 5 === 0 ? null : "en-US",
    createdDateTime: new Date(Date.UTC(2020, 0, 1) + index * 60_000).toISOString().replace(".000Z", "Z"),
    employeeType: guest ? null : r % 4 === 0 ? "Contractor" : "Employee",
    companyName: guest ? null : "Contoso",
    otherMails: [],
    onPremisesExtensionAttributes: extensionAttributes(guest ? null : `CC-${100 + (r % 50)}`),
    customSecurityAttributes: null,
    extensions: {},
    // Users 1..9 of every ten report to the tenth (index 0, 10, 20, ...), who has no manager.
    managerId: index % 10 === 0 ? null : userId(p.seed, index - (index % 10)),
  };
}

/** onPremisesExtensionAttributes as Graph returns it: all fifteen keys, unset ones null. */
export function extensionAttributes(first: string | null): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (let n = 1; n <= 15; n++) out[`extensionAttribute${n}`] = n === 1 ? first : null;
  return out;
}

/**
 * The user as Graph serialises it for a $select: id always, unset properties as null, except
 * schema extensions, which Graph leaves out when unset.
 */
export function project(user: SimUser, select: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = { id: user.id };
  const record = user as unknown as Record<string, unknown>;
  for (const key of select) {
    if (key === "id") continue;
    if (EXTENSION_PROPERTY.test(key)) {
      if (user.extensions[key] !== undefined) out[key] = user.extensions[key];
    } else out[key] = record[key] ?? null;
  }
  return out;
}
