/**
 * The CockroachDB protocol double: {@link startCockroachDouble} and the
 * CockroachDB behaviours it reproduces.
 *
 * @module
 */
export * from './behaviours.js';
export { CockroachDouble, type CockroachDoubleOptions, startCockroachDouble } from './double.js';
export type { ClusterSettings, DoubleEvent, SystemPrivileges } from './state.js';
