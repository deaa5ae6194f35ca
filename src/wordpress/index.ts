/** WordPress REST implementation of the engine's Site port. */
export type { WordPressMetrics } from "./client";
export { type Memberships, makeWordPressNetwork, type WordPressNetwork, type WordPressNetworkOptions } from "./network";
export { makeWordPressSite, type WordPressSiteOptions } from "./site";
