export { parseExpiresIn } from "./expiry";
export { type LinkGenerations, linkGenerationsFrom, makeMemoryLinkGenerations } from "./generations";
export {
  checkLinkClaims,
  LINK_ACTIONS,
  type LinkAction,
  type LinkClaims,
  type LinkExpectation,
  type LinkFailure,
  LinkTokenError,
  MAX_TOKEN_LENGTH,
  readLink,
  signLink,
  verifyLink,
} from "./tokens";
export { type JobLinks, linkUrl, makeLinks } from "./urls";
