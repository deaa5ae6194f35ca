/**
 * The SCIM 2.0 attributes this service supports (RFC 7643 core User and Group, the enterprise
 * User extension), and reading a provider's resource into their canonical spelling. Attribute
 * names are case-insensitive in SCIM ("username" is userName); an attribute not listed here is
 * dropped on input and never returned, and /Schemas says exactly this list.
 */
import { ScimError } from "./errors";

export const USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User";
export const GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group";
export const ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
export const LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
export const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

export type AttributeType = "string" | "boolean" | "complex" | "reference";

export interface AttributeDef {
  name: string;
  type: AttributeType;
  multiValued: boolean;
  description: string;
  required?: boolean;
  /** "server": unique among the job's resources (compared case-insensitively). */
  uniqueness?: "server";
  /** "readOnly" (id) or "immutable"; readWrite when absent. */
  mutability?: "readOnly";
  subAttributes?: AttributeDef[];
}

const text = (name: string, description: string, extra: Partial<AttributeDef> = {}): AttributeDef => ({
  name,
  type: "string",
  multiValued: false,
  description,
  ...extra,
});
const flag = (name: string, description: string): AttributeDef => ({
  name,
  type: "boolean",
  multiValued: false,
  description,
});
const typed = (name: string, description: string, value: AttributeDef[]): AttributeDef => ({
  name,
  type: "complex",
  multiValued: true,
  description,
  subAttributes: [...value, text("type", "A label: work, home, mobile, other"), flag("primary", "The preferred one")],
});

export const USER_ATTRIBUTES: readonly AttributeDef[] = [
  text("userName", "Unique identifier of the user, typically the sign-in name (case-insensitive)", {
    required: true,
    uniqueness: "server",
  }),
  {
    name: "name",
    type: "complex",
    multiValued: false,
    description: "The components of the user's name",
    subAttributes: [
      text("formatted", "The full name"),
      text("familyName", "The family name"),
      text("givenName", "The given name"),
      text("middleName", "The middle name"),
      text("honorificPrefix", "Honorific prefix"),
      text("honorificSuffix", "Honorific suffix"),
    ],
  },
  text("displayName", "The name shown for the user"),
  text("nickName", "The casual name"),
  text("profileUrl", "A URL of the user's profile"),
  text("title", "The job title"),
  text("userType", "The relationship to the organisation"),
  text("preferredLanguage", "The preferred language"),
  text("locale", "The default location"),
  text("timezone", "The time zone (IANA)"),
  flag("active", "false: the user is deactivated in WordPress (the job's actions.missing)"),
  typed("emails", "E-mail addresses", [text("value", "The address"), text("display", "Display value")]),
  typed("phoneNumbers", "Phone numbers", [text("value", "The number"), text("display", "Display value")]),
  typed("addresses", "Postal addresses", [
    text("formatted", "The full address"),
    text("streetAddress", "Street"),
    text("locality", "City"),
    text("region", "State or region"),
    text("postalCode", "Postal code"),
    text("country", "Country"),
  ]),
];

export const ENTERPRISE_ATTRIBUTES: readonly AttributeDef[] = [
  text("employeeNumber", "Employee number"),
  text("costCenter", "Cost center"),
  text("organization", "Organisation"),
  text("division", "Division"),
  text("department", "Department"),
  {
    name: "manager",
    type: "complex",
    multiValued: false,
    description: "The user's manager",
    subAttributes: [
      text("value", "The manager's id"),
      text("displayName", "The manager's name"),
      { name: "$ref", type: "reference", multiValued: false, description: "The manager's URI" },
    ],
  },
];

export const GROUP_ATTRIBUTES: readonly AttributeDef[] = [
  text("displayName", "The group's name (unique, case-insensitive)", { required: true, uniqueness: "server" }),
  {
    name: "members",
    type: "complex",
    multiValued: true,
    description: "The users in the group (ids of /Users)",
    subAttributes: [
      text("value", "The member's id"),
      text("display", "The member's name"),
      { name: "$ref", type: "reference", multiValued: false, description: "The member's URI" },
      text("type", "User"),
    ],
  },
];

/** Attributes every resource has besides its schema's: externalId is the provider's own id of it. */
export const COMMON_ATTRIBUTES: readonly AttributeDef[] = [text("externalId", "The provider's id of the resource")];

export function findDef(defs: readonly AttributeDef[], name: string): AttributeDef | undefined {
  const lower = name.toLowerCase();
  return defs.find((def) => def.name.toLowerCase() === lower);
}

/** A resource in canonical spelling: known attributes only, the extension under its URN. */
export type ScimObject = Record<string, unknown>;

/** What a query filter may name besides the stored attributes: the server's id. */
export function filterDefs(kind: "User" | "Group"): AttributeDef[] {
  return [...resourceDefs(kind), text("id", "The server's id of the resource", { mutability: "readOnly" })];
}

/** The attributes of a resource type, the extension's under its URN as one complex attribute. */
export function resourceDefs(kind: "User" | "Group"): AttributeDef[] {
  if (kind === "Group") return [...GROUP_ATTRIBUTES, ...COMMON_ATTRIBUTES];
  return [
    ...USER_ATTRIBUTES,
    ...COMMON_ATTRIBUTES,
    {
      name: ENTERPRISE_SCHEMA,
      type: "complex",
      multiValued: false,
      description: "The enterprise extension",
      subAttributes: [...ENTERPRISE_ATTRIBUTES],
    },
  ];
}

/**
 * A provider's resource in canonical spelling and types. Booleans sent as "True"/"False" (Entra
 * without aadOptscim062020) become booleans; id, meta and schemas are the server's and ignored;
 * unknown attributes are dropped. Throws ScimError invalidValue naming a wrongly typed attribute.
 */
export function canonical(body: unknown, kind: "User" | "Group"): ScimObject {
  if (!isPlainObject(body)) throw new ScimError(400, "invalidSyntax", `the ${kind} must be a JSON object`);
  return readComplex(body, resourceDefs(kind), "");
}

function readComplex(value: Record<string, unknown>, defs: readonly AttributeDef[], at: string): ScimObject {
  const out: ScimObject = {};
  for (const [key, raw] of Object.entries(value)) {
    const def = findDef(defs, key);
    if (!def || raw === null || raw === undefined) continue;
    out[def.name] = readValue(def, raw, `${at}${def.name}`);
  }
  return out;
}

/** One attribute's value, checked against its definition. */
export function readValue(def: AttributeDef, raw: unknown, at: string): unknown {
  if (def.multiValued) {
    const items = Array.isArray(raw) ? raw : [raw];
    return items.filter((item) => item !== null).map((item, i) => readSingle(def, item, `${at}[${i}]`));
  }
  return readSingle(def, raw, at);
}

function readSingle(def: AttributeDef, raw: unknown, at: string): unknown {
  switch (def.type) {
    case "boolean":
      return readBoolean(raw, at);
    case "complex":
      // Entra sends a manager as its id alone.
      if (typeof raw === "string" && findDef(def.subAttributes ?? [], "value")) return { value: raw };
      if (!isPlainObject(raw)) throw invalid(at, "an object", raw);
      return readComplex(raw, def.subAttributes ?? [], `${at}.`);
    default:
      if (typeof raw === "number") return String(raw);
      if (typeof raw !== "string") throw invalid(at, "a string", raw);
      if (raw.length > 2048) throw new ScimError(400, "invalidValue", `${at} is longer than 2048 characters`);
      return raw;
  }
}

export function readBoolean(raw: unknown, at: string): boolean {
  if (typeof raw === "boolean") return raw;
  if (typeof raw === "string" && /^(true|false)$/i.test(raw)) return raw.toLowerCase() === "true";
  throw invalid(at, "true or false", raw);
}

function invalid(at: string, expected: string, raw: unknown): ScimError {
  const shown = JSON.stringify(raw) ?? String(raw);
  return new ScimError(400, "invalidValue", `${at} must be ${expected} (got ${shown.slice(0, 80)})`);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
