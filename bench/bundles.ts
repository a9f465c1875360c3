/**
 * Builds the two bundles the bench compares, with the same esbuild options
 * and externals: the rotation function as deployed, and the floor (only
 * `@aws-sdk/client-secrets-manager` and `pg`, see `floor.ts`). The options
 * are the construct's own (`FUNCTION_BUILD_OPTIONS`, infra/function-code.ts),
 * the one definition the deployed and packed bundles are built with.
 *
 * @module
 */
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BuildOptions, build, type Metafile } from 'esbuild';
import { FUNCTION_BUILD_OPTIONS } from '../infra/function-code.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** One built bundle. */
export interface Bundle {
  /** The bundle as deployed by default (`index.mjs`): no source map, nor the comment naming it. */
  readonly file: string;
  readonly bytes: number;
  /**
   * The bundle as deployed with `sourceMaps: true`: its `sourceMappingURL`
   * comment kept and `index.mjs.map` beside it.
   */
  readonly mappedFile: string;
  /** The source map's bytes. */
  readonly mapBytes: number;
  /** Bytes in the bundle per package (or `lambda/` folder), from esbuild's metafile. */
  readonly composition: Readonly<Record<string, number>>;
}

/** The bundles of one bench run. */
export interface Bundles {
  readonly fn: Bundle;
  readonly floor: Bundle;
  /** The cold-start child script (plain Node, no dependencies). */
  readonly child: string;
}

/** `node_modules/<pkg>/...` → `<pkg>`; our own files by folder (`lambda/core`). */
function owner(input: string): string {
  const inModules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
  if (inModules) return inModules[1] as string;
  const parts = input.replace(/^(\.\.\/)+/, '').split('/');
  return parts.length > 2 ? parts.slice(0, 2).join('/') : parts.join('/');
}

function composition(metafile: Metafile, outfile: string): Record<string, number> {
  const output = Object.entries(metafile.outputs).find(([path]) => path.endsWith(outfile));
  const totals: Record<string, number> = {};
  for (const [input, { bytesInOutput }] of Object.entries(output?.[1].inputs ?? {})) {
    const key = owner(input);
    totals[key] = (totals[key] ?? 0) + bytesInOutput;
  }
  return totals;
}

/** The comment esbuild ends a `linked` bundle with, which the deployed package drops with the map. */
const SOURCE_MAPPING_URL = /\n\/\/# sourceMappingURL=index\.mjs\.map\n?$/;

async function bundle(entry: string, outdir: string): Promise<Bundle> {
  const mappedDir = join(outdir, 'with-source-map');
  mkdirSync(mappedDir, { recursive: true });
  const mappedFile = join(mappedDir, 'index.mjs');
  const options: BuildOptions = {
    ...FUNCTION_BUILD_OPTIONS,
    mainFields: [...FUNCTION_BUILD_OPTIONS.mainFields],
    external: [...FUNCTION_BUILD_OPTIONS.external],
    entryPoints: [entry],
    outfile: mappedFile,
    metafile: true,
  };
  const result = await build(options);
  const file = join(outdir, 'index.mjs');
  writeFileSync(file, readFileSync(mappedFile, 'utf8').replace(SOURCE_MAPPING_URL, ''));
  return {
    file,
    bytes: statSync(file).size,
    mappedFile,
    mapBytes: statSync(`${mappedFile}.map`).size,
    composition: composition(result.metafile as Metafile, 'index.mjs'),
  };
}

/**
 * Builds the function from `lambda/index.ts`, the floor from
 * `bench/floor.ts`, and the cold-start child, into `dir`.
 */
export async function buildBundles(dir: string): Promise<Bundles> {
  const fn = await bundle(join(ROOT, 'lambda/index.ts'), join(dir, 'function'));
  const floor = await bundle(join(ROOT, 'bench/floor.ts'), join(dir, 'floor'));
  const child = join(dir, 'cold-start-child.mjs');
  await build({
    entryPoints: [join(ROOT, 'bench/cold-start-child.ts')],
    outfile: child,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
  });
  return { fn, floor, child };
}

/**
 * What the function carries beyond the floor, per package or folder, largest
 * first: where its extra bytes go.
 */
export function beyondFloor(bundles: Bundles): { name: string; bytes: number }[] {
  const names = new Set([
    ...Object.keys(bundles.fn.composition),
    ...Object.keys(bundles.floor.composition),
  ]);
  return [...names]
    .map((name) => ({
      name,
      bytes: (bundles.fn.composition[name] ?? 0) - (bundles.floor.composition[name] ?? 0),
    }))
    .filter(({ name, bytes }) => bytes > 256 && !name.startsWith('bench/'))
    .sort((a, b) => b.bytes - a.bytes);
}
