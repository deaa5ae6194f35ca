export { aTenant, makeTenant, TenantBuilder, type TenantOptions } from "./builder";
export { type CustomerTraits, type SimIdentity, SOCIAL_ISSUERS } from "./customer";
export { type Fault, type FaultKind, FaultQueue, type SimRoute } from "./faults";
export {
  GRAPH_CONTENT_TYPE,
  type GraphSimulator,
  type GraphSimulatorOptions,
  type RequestRecord,
  type SimulatedTenant,
  startGraphSimulator,
  type TenantOptions as SimulatedTenantOptions,
} from "./server";
export { type SimGroup, SimTenant } from "./tenant";
export { DEFAULT_SELECT, type SimUser } from "./users";
