/**
 * Test helpers: real Temporal servers (dev server and time-skipping) with our search attributes,
 * and the binaries they run. Node-only.
 * @module
 */
export { startDevServer, startTimeSkippingServer, installQuietRuntime, type DevServerOptions } from './temporal-env';
export { temporalBinaries, type TemporalBinaries } from './temporal-binaries';
