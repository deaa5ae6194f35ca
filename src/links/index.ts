export { parseExpiresIn } from "./expiry";
export { type LinkCutoffs, linkCutoffsFrom } from "./revocations";
export {
  checkLinkClaims,
  LINK_ACTIONS,
  type LinkAction,
  type LinkClaims,
  type LinkExpectation,
  type LinkFailure,
  LinkTokenError,
  linkAudience,
  MAX_TOKEN_LENGTH,
  type ReadOptions,
  readLink,
  type SignInput,
  signLink,
  verifyLink,
} from "./tokens";
export { type JobLinks, type LinkMinter, linkUrl, type MintOptions, makeLinks } from "./urls";
