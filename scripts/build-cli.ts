/**
 * The `scram-rotator` command's bundle, dist/cli.mjs (package.json `bin`):
 * bin/scram-rotator.ts with everything it imports (commander, the AWS SDK
 * clients, pg, the function's modules) in one file with a shebang, so that
 * the installed package runs it from any folder and keeps no runtime
 * dependencies. scripts/build.ts calls it.
 *
 * @module
 */
import { chmodSync } from 'node:fs';
import { build } from 'esbuild';
import { FUNCTION_BUILD_OPTIONS } from '../infra/function-code.js';

/** The bundle's file name in dist/. */
export const CLI_BUNDLE_FILE = 'cli.mjs';

/** Bundles the command from the checkout at `root` into `<dist>/cli.mjs`. */
export async function buildCli(root: string, dist: string): Promise<void> {
  const outfile = `${dist}/${CLI_BUNDLE_FILE}`;
  await build({
    entryPoints: [`${root}bin/scram-rotator.ts`],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    // The oldest Node the package supports (engines).
    target: 'node20',
    mainFields: ['module', 'main'],
    // Smaller, with function and class names kept so that error names and
    // SCRAM_ROTATOR_DEBUG=1 stack traces still read.
    minify: true,
    keepNames: true,
    external: [...FUNCTION_BUILD_OPTIONS.external],
    // The shebang first, then the require() binding CommonJS dependencies need.
    banner: { js: `#!/usr/bin/env node\n${FUNCTION_BUILD_OPTIONS.banner.js}` },
    logLevel: 'warning',
  });
  chmodSync(outfile, 0o755);
}
