/**
 * A SCIM user as the engine sees it. The engine plans Graph-shaped users (core/users.ts GraphUser),
 * so a pushed user is presented in that shape: `id` is the user's key (the externalId it was
 * created with, Entra's object id, else its SCIM id), userPrincipalName its userName, mail its
 * work (else primary, else first) e-mail, and every supported SCIM attribute readable by a dotted
 * path: `emails[type eq "work"].value` is read as `emails.work.value`, the enterprise extension's
 * `department` as `enterprise.department`. A job's SCIM field paths are translated once, at start-up.
 */
import type { GraphUser } from "../users";
import { ScimError } from "./errors";
import { type AttrPath, parsePatchPath } from "./paths";
import { ENTERPRISE_SCHEMA, isPlainObject, resourceDefs, type ScimObject } from "./schema";

/** The fields of a SCIM job that does not say its own (WordPress field -> SCIM attribute paths). */
export const SCIM_DEFAULT_FIELDS: Readonly<Record<string, string>> = {
  first_name: "name.givenName",
  last_name: "name.familyName",
  name: "displayName",
  email: 'emails[type eq "work"].value|emails.value|userName',
};

/** SCIM jobs name the login rule after userName; the engine's rules read it as the UPN. */
export const SCIM_USERNAME_RULES: Readonly<Record<string, string>> = {
  userName: "upn",
  userNamePrefix: "upnPrefix",
  email: "email",
};

const ITEM_TYPE = /^[A-Za-z0-9_-]{1,40}$/;

/** One SCIM attribute path as the engine reads it from graphUserOf's result; throws ScimError invalidPath. */
export function enginePath(text: string): string {
  const path = parsePatchPath(text.trim(), resourceDefs("User"));
  return engineName(path, text);
}

function engineName(path: AttrPath, text: string): string {
  const [first, second] = path.attr;
  const top = first === ENTERPRISE_SCHEMA ? `enterprise.${second}` : first!;
  if (path.def.multiValued) {
    let typed = "";
    if (path.filter) {
      const [only, ...rest] = path.filter;
      const type = only?.value;
      if (rest.length > 0 || only?.path.attr[0] !== "type" || typeof type !== "string" || !ITEM_TYPE.test(type)) {
        throw new ScimError(
          400,
          "invalidPath",
          `${JSON.stringify(text)}: only a [type eq "<type>"] filter can be mapped`,
        );
      }
      typed = `.${type.toLowerCase()}`;
    }
    return `${top}${typed}.${path.sub?.name ?? "value"}`;
  }
  if (path.sub) return `${top}.${path.sub.name}`;
  return path.def.type === "complex" ? `${top}.value` : top;
}

/** "a|b" of SCIM paths -> the engine's short-form mapping; throws ScimError naming the bad path. */
export function engineMapping(text: string): string {
  return text
    .split("|")
    .map((part) => enginePath(part))
    .join("|");
}

/** The user as the engine plans it; `key` is its user-map key. */
export function graphUserOf(key: string, resource: ScimObject): GraphUser {
  const emails = itemsOf(resource.emails);
  const work = emails.find((item) => String(item.type ?? "").toLowerCase() === "work");
  const primary = emails.find((item) => item.primary === true) ?? emails[0];
  const user: GraphUser = {
    id: key,
    accountEnabled: resource.active !== false,
    userType: "Member",
    userPrincipalName: resource.userName ?? null,
    mail: (work ?? primary)?.value ?? null,
    displayName: resource.displayName ?? null,
  };
  for (const [name, value] of Object.entries(resource)) {
    if (name === ENTERPRISE_SCHEMA) user.enterprise = value;
    else if (Array.isArray(value)) user[name] = typedView(itemsOf(value));
    else if (!(name in user)) user[name] = value;
  }
  return user;
}

function itemsOf(value: unknown): ScimObject[] {
  return Array.isArray(value) ? value.filter(isPlainObject) : [];
}

/** A multi-valued attribute read by type: its primary (else first) item's sub-attributes, and each type's first item. */
function typedView(items: ScimObject[]): ScimObject {
  const primary = items.find((item) => item.primary === true) ?? items[0] ?? {};
  const view: ScimObject = { ...primary };
  for (const item of items) {
    const type = typeof item.type === "string" ? item.type.toLowerCase() : null;
    if (type && ITEM_TYPE.test(type) && !(type in view)) view[type] = item;
  }
  return view;
}
