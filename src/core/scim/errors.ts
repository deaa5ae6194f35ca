/**
 * A SCIM error (RFC 7644 §3.12): what the SCIM routes answer instead of problem+json, with the
 * scimType a provider's client understands. The detail names what is wrong, never internals.
 */
export type ScimType =
  | "invalidFilter"
  | "tooMany"
  | "uniqueness"
  | "mutability"
  | "invalidSyntax"
  | "invalidPath"
  | "noTarget"
  | "invalidValue"
  | "invalidVers"
  | "sensitive";

export class ScimError extends Error {
  override name = "ScimError";
  constructor(
    readonly status: number,
    readonly scimType: ScimType | null,
    message: string,
    /** Seconds, for 429 and 503. */
    readonly retryAfter: number | null = null,
  ) {
    super(message);
  }
}
