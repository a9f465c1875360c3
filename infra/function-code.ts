/**
 * The rotation function's deployment package, and the one set of esbuild
 * options it is built with.
 *
 * Two places build it: `npm pack` (scripts/build.ts) puts a prebuilt bundle
 * in `dist/function/` so that an installed package needs neither esbuild nor
 * the function's dependencies; a checkout (tests, `npx cdk synth` here)
 * bundles `lambda/index.ts` at synth time. Both call {@link buildFunctionBundle},
 * so the packaged function is the one the tests run.
 *
 * @module
 */
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AssetHashType, type BundlingOptions, DockerImage, type ILocalBundling } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';

/** The bundle's file name; the handler is `index.handler`. */
export const FUNCTION_BUNDLE_FILE = 'index.mjs';
/** The source map esbuild writes beside it (shipped only with `sourceMaps: true`). */
export const FUNCTION_SOURCE_MAP_FILE = `${FUNCTION_BUNDLE_FILE}.map`;
/** Where the CA bundle lands in the deployment package (`/var/task` is the package root). */
export const CA_BUNDLE_FILE = 'ca-bundle.pem';

/**
 * The prebuilt bundle of a packed package. The construct is bundled into
 * `dist/index.js`, so this resolves to `dist/function/` there; in a
 * checkout (`infra/`) it does not exist and the source is bundled instead.
 */
const PREBUILT_DIR = fileURLToPath(new URL('./function/', import.meta.url));
/** The function's source, in a checkout. */
const LAMBDA_DIR = fileURLToPath(new URL('../lambda/', import.meta.url));

/**
 * The oldest Node.js the function runs on: the bundle is built for it, so
 * it runs on every Lambda runtime from it on (the `runtime` prop refuses
 * older ones). The project's engines start at Node.js 20 too.
 */
export const OLDEST_NODE_MAJOR = 20;

/**
 * esbuild options of the function bundle (entry and output aside), one set
 * for the packed bundle and the synth-time bundle so they cannot drift apart.
 */
export const FUNCTION_BUILD_OPTIONS = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: `node${OLDEST_NODE_MAJOR}`,
  // Prefer packages' ES module builds, which esbuild can tree-shake.
  mainFields: ['module', 'main'],
  minify: true,
  // Always written; the construct ships it only when asked (sourceMaps).
  sourcemap: 'linked',
  sourcesContent: false,
  // The SDK goes in the bundle: the version tested here is the version that
  // runs, whatever the runtime ships. pg-native is an optional native binding
  // pg loads only when asked to; we never ask.
  external: ['pg-native'],
  // CommonJS dependencies (pg) call require() for Node built-ins, which an
  // ES module has no binding for.
  banner: {
    js: "import { createRequire as __scramCreateRequire } from 'node:module'; const require = __scramCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
} as const;

/**
 * Bundles `lambda/index.ts` into `outdir` (index.mjs and its map). Needs the
 * project's devDependencies (esbuild, the function's dependencies): it runs
 * in a checkout and in `npm pack`, never in an installed package.
 */
export function buildFunctionBundle(outdir: string): void {
  // Loaded here, not imported: the packed construct never calls this and
  // esbuild is not one of its dependencies.
  const esbuild = createRequire(import.meta.url)('esbuild') as typeof import('esbuild');
  esbuild.buildSync({
    ...FUNCTION_BUILD_OPTIONS,
    mainFields: [...FUNCTION_BUILD_OPTIONS.mainFields],
    external: [...FUNCTION_BUILD_OPTIONS.external],
    entryPoints: [join(LAMBDA_DIR, 'index.ts')],
    outfile: join(outdir, FUNCTION_BUNDLE_FILE),
  });
}

/** Whether this copy of the construct carries a prebuilt bundle (a packed package). */
export function hasPrebuiltBundle(): boolean {
  return existsSync(join(PREBUILT_DIR, FUNCTION_BUNDLE_FILE));
}

/** The comment esbuild ends a `linked` bundle with. */
const SOURCE_MAPPING_URL = new RegExp(
  `\\n//# sourceMappingURL=${FUNCTION_SOURCE_MAP_FILE.replaceAll('.', '\\.')}\\n?$`,
);

/** Options of {@link functionCode}. */
export interface FunctionCodeOptions {
  /** Ship the source map (the caller also sets `--enable-source-maps`). */
  readonly sourceMaps: boolean;
  /** Absolute path of a PEM file to ship as {@link CA_BUNDLE_FILE}, if any. */
  readonly caBundleSource: string | undefined;
}

/**
 * Local "bundling" that lays out the deployment package: the bundle (built
 * now, or copied from the package), the map when wanted, the CA bundle.
 * Its fields are data, not closures, because the CDK keys its asset cache on
 * the bundling options' JSON: two functions with different settings in one
 * app must not share a staged asset.
 */
class FunctionPackager implements ILocalBundling {
  readonly source: 'prebuilt' | 'lambda/';
  readonly sourceMaps: boolean;
  readonly caBundleSource: string | undefined;

  constructor(options: FunctionCodeOptions) {
    this.source = hasPrebuiltBundle() ? 'prebuilt' : 'lambda/';
    this.sourceMaps = options.sourceMaps;
    this.caBundleSource = options.caBundleSource;
  }

  tryBundle(outputDir: string): boolean {
    const bundle = join(outputDir, FUNCTION_BUNDLE_FILE);
    const map = join(outputDir, FUNCTION_SOURCE_MAP_FILE);
    if (this.source === 'prebuilt') {
      copyFileSync(join(PREBUILT_DIR, FUNCTION_BUNDLE_FILE), bundle);
      copyFileSync(join(PREBUILT_DIR, FUNCTION_SOURCE_MAP_FILE), map);
    } else {
      buildFunctionBundle(outputDir);
    }
    if (!this.sourceMaps) {
      // Neither the map nor the comment that names it.
      rmSync(map, { force: true });
      writeFileSync(bundle, readFileSync(bundle, 'utf8').replace(SOURCE_MAPPING_URL, ''));
    }
    if (this.caBundleSource !== undefined) {
      copyFileSync(this.caBundleSource, join(outputDir, CA_BUNDLE_FILE));
    }
    return true;
  }
}

/**
 * The function's code asset. Hashed by its output, so the same bundle gives
 * the same asset (and no new Lambda version) whatever the machine.
 */
export function functionCode(options: FunctionCodeOptions): lambda.Code {
  const local = new FunctionPackager(options);
  const bundling: BundlingOptions = {
    local,
    // Required by the type, never pulled: local bundling always succeeds or
    // throws, so Docker is not used (our machines and many CI runners have none).
    image: DockerImage.fromRegistry('scram-rotator-local-bundling-only'),
  };
  return lambda.Code.fromAsset(local.source === 'prebuilt' ? PREBUILT_DIR : LAMBDA_DIR, {
    assetHashType: AssetHashType.OUTPUT,
    bundling,
  });
}
