/** WordPress REST implementation of the engine's Site port, plus what only WordPress knows (logins, matching). */
export type { WordPressMetrics } from "./client";
export { type Memberships, makeWordPressNetwork, type WordPressNetwork, type WordPressNetworkOptions } from "./network";
export { makeWordPressSite, type WordPressSiteOptions } from "./site";
export { buildUserIndex, type UserIndex } from "./user-index";
