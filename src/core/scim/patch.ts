/**
 * PATCH (RFC 7644 §3.5.2) as Entra and Okta send it: ops in any case ("Replace" from Entra jobs
 * without aadOptscim062020), booleans as "True"/"False" strings, a path with a value filter
 * (`emails[type eq "work"].value`, `members[value eq "<id>"]`) or an extension URN, and no path at
 * all with an object whose keys may be paths themselves (Okta's `{"active": false}`, Entra's
 * `{"name.givenName": "x"}`). Pure: the resource in, a new resource out.
 */
import { ScimError } from "./errors";
import { type AttrPath, itemMatches, parsePatchPath } from "./paths";
import {
  type AttributeDef,
  ENTERPRISE_SCHEMA,
  isPlainObject,
  readValue,
  resourceDefs,
  type ScimObject,
} from "./schema";

export type PatchOpName = "add" | "replace" | "remove";

export interface PatchOperation {
  op: PatchOpName;
  path: AttrPath | null;
  value: unknown;
}

/** Reads a PatchOp body; throws ScimError invalidSyntax / invalidPath / tooMany naming the operation. */
export function readPatch(body: unknown, kind: "User" | "Group", maxOperations: number): PatchOperation[] {
  if (!isPlainObject(body)) throw new ScimError(400, "invalidSyntax", "the PATCH body must be a JSON object");
  const key = Object.keys(body).find((name) => name.toLowerCase() === "operations");
  const operations = key === undefined ? undefined : body[key];
  if (!Array.isArray(operations) || operations.length === 0) {
    throw new ScimError(
      400,
      "invalidSyntax",
      'the PATCH body needs "Operations": a non-empty array of {op, path, value}',
    );
  }
  if (operations.length > maxOperations) {
    throw new ScimError(
      400,
      "tooMany",
      `the PATCH has ${operations.length} operations; at most ${maxOperations} are accepted`,
    );
  }
  const defs = resourceDefs(kind);
  return operations.map((raw, index) => {
    const at = `Operations[${index}]`;
    if (!isPlainObject(raw)) throw new ScimError(400, "invalidSyntax", `${at} must be an object {op, path, value}`);
    const field = (name: string) => raw[Object.keys(raw).find((k) => k.toLowerCase() === name) ?? name];
    const op = field("op");
    const lower = typeof op === "string" ? op.toLowerCase() : "";
    if (lower !== "add" && lower !== "replace" && lower !== "remove") {
      throw new ScimError(400, "invalidSyntax", `${at}.op must be add, replace or remove (got ${JSON.stringify(op)})`);
    }
    const pathText = field("path");
    if (pathText !== undefined && (typeof pathText !== "string" || pathText.trim() === "")) {
      throw new ScimError(400, "invalidPath", `${at}.path must be a non-empty string`);
    }
    const path = pathText === undefined ? null : parsePatchPath(pathText.trim(), defs);
    const value = field("value");
    if (path === null && lower === "remove") throw new ScimError(400, "noTarget", `${at}: remove needs a path`);
    if (path === null && !isPlainObject(value)) {
      throw new ScimError(400, "invalidValue", `${at}: without a path, value must be an object of attributes`);
    }
    if (lower !== "remove" && value === undefined) throw new ScimError(400, "invalidValue", `${at} needs a value`);
    return { op: lower, path, value };
  });
}

/** Applies operations in order to a copy of the resource. */
export function applyPatch(resource: ScimObject, operations: PatchOperation[], kind: "User" | "Group"): ScimObject {
  const next = structuredClone(resource);
  const defs = resourceDefs(kind);
  for (const operation of operations) {
    if (operation.path) {
      apply(next, operation.op, operation.path, operation.value);
      continue;
    }
    for (const [key, value] of Object.entries(operation.value as Record<string, unknown>)) {
      // The extension as one object: each of its attributes is a path of its own.
      if (key.toLowerCase() === ENTERPRISE_SCHEMA.toLowerCase() && isPlainObject(value)) {
        for (const [inner, innerValue] of Object.entries(value)) {
          apply(next, operation.op, parsePatchPath(`${ENTERPRISE_SCHEMA}:${inner}`, defs), innerValue);
        }
        continue;
      }
      if (key.toLowerCase() === "schemas" || key.toLowerCase() === "id" || key.toLowerCase() === "meta") continue;
      apply(next, operation.op, parsePatchPath(key, defs), value);
    }
  }
  return next;
}

function apply(resource: ScimObject, op: PatchOpName, path: AttrPath, raw: unknown): void {
  if (op === "remove" || raw === null) {
    remove(resource, path, raw);
    return;
  }
  const at = path.attr.join(":");
  const { def } = path;
  const parent = container(resource, path.attr, true)!;
  const name = path.attr[path.attr.length - 1]!;
  if (def.multiValued) {
    const items = Array.isArray(parent[name]) ? (parent[name] as ScimObject[]) : [];
    parent[name] = items;
    if (path.filter) {
      const matching = items.filter((item) => itemMatches(item, path.filter!));
      const update = path.sub
        ? { [path.sub.name]: readValue(path.sub, raw, `${at}.${path.sub.name}`) }
        : itemOf(def, raw, at);
      if (matching.length === 0) items.push({ ...seedOf(path), ...update });
      for (const item of matching) Object.assign(item, update);
      return;
    }
    if (path.sub) {
      const value = readValue(path.sub, raw, `${at}.${path.sub.name}`);
      if (items.length === 0) items.push({});
      for (const item of items) item[path.sub.name] = value;
      return;
    }
    const given = readValue(def, raw, at) as ScimObject[];
    if (op === "replace") {
      parent[name] = given;
      return;
    }
    for (const item of given) {
      const same = items.find((existing) => sameItem(existing, item));
      if (same) Object.assign(same, item);
      else items.push(item);
    }
    return;
  }
  if (path.sub) {
    const object = isPlainObject(parent[name]) ? (parent[name] as ScimObject) : {};
    object[path.sub.name] = readValue(path.sub, raw, `${at}.${path.sub.name}`);
    parent[name] = object;
    return;
  }
  const value = readValue(def, raw, at);
  // A complex attribute's sub-attributes given replace those, and the others stay (RFC 7644 §3.5.2.3).
  parent[name] =
    def.type === "complex" && isPlainObject(parent[name])
      ? { ...(parent[name] as object), ...(value as object) }
      : value;
}

function remove(resource: ScimObject, path: AttrPath, raw: unknown): void {
  const parent = container(resource, path.attr, false);
  const name = path.attr[path.attr.length - 1]!;
  if (!parent || parent[name] === undefined) return;
  const { def } = path;
  if (def.multiValued && Array.isArray(parent[name])) {
    const items = parent[name] as ScimObject[];
    if (path.filter) {
      if (path.sub) for (const item of items.filter((i) => itemMatches(i, path.filter!))) delete item[path.sub.name];
      else parent[name] = items.filter((item) => !itemMatches(item, path.filter!));
      return;
    }
    if (path.sub) {
      for (const item of items) delete item[path.sub.name];
      return;
    }
    // "remove members" with the members to remove as its value (Okta, some Entra jobs).
    if (Array.isArray(raw) && raw.length > 0) {
      const given = readValue(def, raw, name) as ScimObject[];
      parent[name] = items.filter((item) => !given.some((g) => sameItem(item, g)));
      return;
    }
    delete parent[name];
    return;
  }
  if (path.sub) {
    if (isPlainObject(parent[name])) delete (parent[name] as ScimObject)[path.sub.name];
    return;
  }
  delete parent[name];
}

/** The object holding the attribute (the extension's object for its attributes), made on the way when asked. */
function container(resource: ScimObject, attr: readonly string[], create: boolean): ScimObject | null {
  let object = resource;
  for (const name of attr.slice(0, -1)) {
    if (!isPlainObject(object[name])) {
      if (!create) return null;
      object[name] = {};
    }
    object = object[name] as ScimObject;
  }
  return object;
}

/** A new item for `emails[type eq "work"].value`: it has what the filter asked for. */
function seedOf(path: AttrPath): ScimObject {
  const seed: ScimObject = {};
  for (const condition of path.filter ?? []) {
    if (condition.path.sub === null && condition.path.attr.length === 1)
      seed[condition.path.attr[0]!] = condition.value;
  }
  return seed;
}

function itemOf(def: AttributeDef, raw: unknown, at: string): ScimObject {
  const [item] = readValue(def, Array.isArray(raw) ? raw.slice(0, 1) : [raw], at) as ScimObject[];
  return item ?? {};
}

/** Two items are one when their values are equal (case-insensitively), or both have none and the same type. */
function sameItem(a: ScimObject, b: ScimObject): boolean {
  const lower = (v: unknown) => (typeof v === "string" ? v.toLowerCase() : v);
  if (a.value !== undefined || b.value !== undefined) return lower(a.value) === lower(b.value);
  return a.type !== undefined && lower(a.type) === lower(b.type);
}
