export { type GraphDirectory, makeGraphDirectory } from "./directory";
export type { GraphDirectoryOptions, GraphMetrics } from "./options";
export { needsAdvancedQuery } from "./queries";
