/**
 * `npm run build` (and `npm pack`, through prepack): the installable package
 * in dist/.
 *
 * - dist/function/: the rotation function's bundle and source map, built by
 *   the construct's own esbuild options (infra/function-code.ts), so an
 *   installed package needs neither esbuild nor the function's dependencies;
 * - dist/index.js (ES module) and dist/index.cjs (CommonJS, for apps that
 *   `require` it or compile to CommonJS): the construct and stack, with the
 *   few function modules they use at synth time (configuration checks)
 *   inlined; aws-cdk-lib and constructs stay imports (peer dependencies);
 * - dist/cli.mjs: the `scram-rotator` command (scripts/build-cli.ts);
 * - dist/types/: declarations, from tsc, read as ES module declarations
 *   (the package is `"type": "module"`); dist/types-cjs/: the same files
 *   under a `package.json` that says `"type": "commonjs"`, so TypeScript
 *   reads them as CommonJS for the `require` condition and `main`.
 *
 * @module
 */
import { execFileSync } from 'node:child_process';
import { cpSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type BuildOptions, build } from 'esbuild';
import { buildFunctionBundle, FUNCTION_BUILD_OPTIONS } from '../infra/function-code.js';
import { buildCli } from './build-cli.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = `${root}dist`;

rmSync(dist, { recursive: true, force: true });
buildFunctionBundle(`${dist}/function`);
const construct: BuildOptions = {
  entryPoints: [`${root}infra/index.ts`],
  bundle: true,
  platform: 'node',
  // The oldest Node the package supports (engines).
  target: 'node20',
  external: ['aws-cdk-lib', 'aws-cdk-lib/*', 'constructs', 'esbuild'],
  logLevel: 'warning',
};
await build({
  ...construct,
  outfile: `${dist}/index.js`,
  format: 'esm',
  // Inlined CommonJS (saslprep) calls require(), which ESM has no binding for.
  banner: FUNCTION_BUILD_OPTIONS.banner,
});
await build({
  ...construct,
  outfile: `${dist}/index.cjs`,
  format: 'cjs',
  // function-code.ts finds dist/function/ from import.meta.url, which
  // CommonJS lacks; this file's own URL is the same directory.
  define: { 'import.meta.url': '__scramImportMetaUrl' },
  banner: {
    js: "const __scramImportMetaUrl = require('node:url').pathToFileURL(__filename).href;",
  },
});
await buildCli(root, dist);
execFileSync(
  process.execPath,
  [`${root}node_modules/typescript/bin/tsc`, '-p', `${root}tsconfig.build.json`],
  {
    stdio: 'inherit',
  },
);
cpSync(`${dist}/types`, `${dist}/types-cjs`, { recursive: true });
writeFileSync(`${dist}/types-cjs/package.json`, `${JSON.stringify({ type: 'commonjs' })}\n`);
