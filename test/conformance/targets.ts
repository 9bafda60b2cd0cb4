/**
 * What the conformance suite runs against: every mounting style of test/helpers/mounts.ts.
 */
export { mounts, type MountStyle, type Mounted } from "../helpers/mounts.js";
export type { Connection } from "../../core/index.js";
