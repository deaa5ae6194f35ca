/**
 * What the SCIM endpoint answers: resources with their meta, list responses, attribute selection
 * (attributes / excludedAttributes), and the discovery documents, which say exactly what
 * schema.ts and paths.ts support.
 */
import {
  type AttributeDef,
  COMMON_ATTRIBUTES,
  ENTERPRISE_ATTRIBUTES,
  ENTERPRISE_SCHEMA,
  GROUP_ATTRIBUTES,
  GROUP_SCHEMA,
  LIST_RESPONSE,
  type ScimObject,
  USER_ATTRIBUTES,
  USER_SCHEMA,
} from "./schema";

export interface ResourceMeta {
  id: string;
  createdAt: Date;
  updatedAt: Date;
  version: number;
}

export function userResource(baseUrl: string, meta: ResourceMeta, data: ScimObject, active: boolean): ScimObject {
  const schemas = data[ENTERPRISE_SCHEMA] ? [USER_SCHEMA, ENTERPRISE_SCHEMA] : [USER_SCHEMA];
  return {
    schemas,
    id: meta.id,
    ...data,
    active,
    meta: metaOf(baseUrl, "User", meta),
  };
}

export function groupResource(
  baseUrl: string,
  meta: ResourceMeta,
  group: { displayName: string; externalId: string | null; members: Array<{ value: string; display: string }> | null },
): ScimObject {
  return {
    schemas: [GROUP_SCHEMA],
    id: meta.id,
    displayName: group.displayName,
    ...(group.externalId === null ? {} : { externalId: group.externalId }),
    ...(group.members === null
      ? {}
      : {
          members: group.members.map((m) => ({
            value: m.value,
            display: m.display,
            $ref: `${baseUrl}/Users/${m.value}`,
          })),
        }),
    meta: metaOf(baseUrl, "Group", meta),
  };
}

function metaOf(baseUrl: string, resourceType: "User" | "Group", meta: ResourceMeta) {
  return {
    resourceType,
    created: meta.createdAt.toISOString(),
    lastModified: meta.updatedAt.toISOString(),
    location: `${baseUrl}/${resourceType}s/${meta.id}`,
    version: `W/"${meta.version}"`,
  };
}

/**
 * attributes / excludedAttributes (comma-separated, case-insensitive, "name.givenName" selects a
 * sub-attribute); id and schemas always come back (RFC 7643 "returned: always").
 */
export function selectAttributes(
  resource: ScimObject,
  attributes: string | undefined,
  excluded: string | undefined,
): ScimObject {
  const list = (text: string | undefined) =>
    (text ?? "")
      .split(",")
      .map((name) => name.trim().toLowerCase())
      .filter(Boolean)
      .map((name) => name.replace(`${USER_SCHEMA.toLowerCase()}:`, "").replace(`${GROUP_SCHEMA.toLowerCase()}:`, ""));
  const wanted = list(attributes);
  const unwanted = list(excluded);
  const out: ScimObject = {};
  for (const [key, value] of Object.entries(resource)) {
    const lower = key.toLowerCase();
    const always = lower === "id" || lower === "schemas";
    if (!always && unwanted.includes(lower)) continue;
    if (!always && wanted.length > 0) {
      if (wanted.includes(lower)) out[key] = value;
      else {
        const subs = wanted
          .filter((w) => w.startsWith(`${lower}.`) || w.startsWith(`${lower}:`))
          .map((w) => w.slice(lower.length + 1));
        if (subs.length > 0 && value && typeof value === "object" && !Array.isArray(value)) {
          out[key] = Object.fromEntries(Object.entries(value).filter(([k]) => subs.includes(k.toLowerCase())));
        }
      }
      continue;
    }
    out[key] = value;
  }
  return out;
}

export function listResponse(resources: ScimObject[], total: number, startIndex: number): ScimObject {
  return {
    schemas: [LIST_RESPONSE],
    totalResults: total,
    startIndex,
    itemsPerPage: resources.length,
    Resources: resources,
  };
}

/** The most resources one list answer carries (a larger `count` is lowered to it). */
export const MAX_RESULTS = 200;

export function serviceProviderConfig(maxOperations: number, maxPayloadSize: number): ScimObject {
  return {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
    documentationUri: "https://github.com/entra-wp-sync/entra-wp-sync/blob/main/docs/scim.md",
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: MAX_RESULTS },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: false },
    authenticationSchemes: [
      {
        type: "oauthbearertoken",
        name: "Bearer token",
        description:
          "A token of the job made with POST /v1/jobs/{job}/scim-tokens, sent as Authorization: Bearer <token>",
        primary: true,
      },
    ],
    // Not in RFC 7643's list: what this endpoint accepts per request, for an operator reading it.
    "urn:entra-wp-sync:limits": { maxPatchOperations: maxOperations, maxPayloadSize },
  };
}

export function resourceTypes(baseUrl: string): ScimObject[] {
  const type = (name: "User" | "Group", schema: string, extensions: ScimObject[]) => ({
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
    id: name,
    name,
    endpoint: `/${name}s`,
    schema,
    schemaExtensions: extensions,
    meta: { resourceType: "ResourceType", location: `${baseUrl}/ResourceTypes/${name}` },
  });
  return [type("User", USER_SCHEMA, [{ schema: ENTERPRISE_SCHEMA, required: false }]), type("Group", GROUP_SCHEMA, [])];
}

export function schemaDocuments(baseUrl: string): ScimObject[] {
  const doc = (id: string, name: string, attributes: readonly AttributeDef[]) => ({
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
    id,
    name,
    attributes: attributes.map(attributeDocument),
    meta: { resourceType: "Schema", location: `${baseUrl}/Schemas/${id}` },
  });
  return [
    doc(USER_SCHEMA, "User", [...USER_ATTRIBUTES, ...COMMON_ATTRIBUTES]),
    doc(ENTERPRISE_SCHEMA, "EnterpriseUser", ENTERPRISE_ATTRIBUTES),
    doc(GROUP_SCHEMA, "Group", [...GROUP_ATTRIBUTES, ...COMMON_ATTRIBUTES]),
  ];
}

function attributeDocument(def: AttributeDef): ScimObject {
  return {
    name: def.name,
    type: def.type,
    multiValued: def.multiValued,
    description: def.description,
    required: def.required ?? false,
    caseExact: false,
    mutability: def.mutability ?? "readWrite",
    returned: "default",
    uniqueness: def.uniqueness ?? "none",
    ...(def.subAttributes ? { subAttributes: def.subAttributes.map(attributeDocument) } : {}),
  };
}
