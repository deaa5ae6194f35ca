/** WordPress REST implementation of the engine's Site port. */
export type { WordPressMetrics } from "./client";
export { makeWordPressSite, type WordPressSiteOptions } from "./site";
