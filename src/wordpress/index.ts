/** WordPress REST implementation of the engine's Site port, plus what only WordPress knows (logins, matching). */
export type { WordPressMetrics } from "./client";
export { makeWordPressSite, type WordPressSiteOptions } from "./site";
export { buildUserIndex, makeUserIndex, type UserIndex } from "./user-index";
