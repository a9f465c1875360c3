/**
 * `npm run build` (and `npm pack`, through prepack): the installable package
 * in dist/.
 *
 * - dist/function/: the rotation function's bundle and source map, built by
 *   the construct's own esbuild options (infra/function-code.ts), so an
 *   installed package needs neither esbuild nor the function's dependencies;
 * - dist/index.js: the construct and stack, with the few function modules
 *   they use at synth time (configuration checks) inlined; aws-cdk-lib and
 *   constructs stay imports (peer dependencies);
 * - dist/cli.mjs: the `scram-rotator` command (scripts/build-cli.ts);
 * - dist/types/: declarations, from tsc.
 *
 * @module
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { buildFunctionBundle, FUNCTION_BUILD_OPTIONS } from '../infra/function-code.js';
import { buildCli } from './build-cli.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = `${root}dist`;

rmSync(dist, { recursive: true, force: true });
buildFunctionBundle(`${dist}/function`);
await build({
  entryPoints: [`${root}infra/index.ts`],
  outfile: `${dist}/index.js`,
  bundle: true,
  platform: 'node',
  format: 'esm',
  // The oldest Node the package supports (engines), not the function's.
  target: 'node20',
  external: ['aws-cdk-lib', 'aws-cdk-lib/*', 'constructs', 'esbuild'],
  // Inlined CommonJS (saslprep) calls require(), which ESM has no binding for.
  banner: FUNCTION_BUILD_OPTIONS.banner,
  logLevel: 'warning',
});
await buildCli(root, dist);
execFileSync(
  process.execPath,
  [`${root}node_modules/typescript/bin/tsc`, '-p', `${root}tsconfig.build.json`],
  {
    stdio: 'inherit',
  },
);
