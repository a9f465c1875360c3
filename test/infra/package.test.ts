import { execFile, execFileSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { latestNodeRuntime } from '../../infra/function.js';
import { docPages, links, readPage, resolveFrom } from '../docs/markdown.js';
import { describeInstalledCli } from './installed-cli.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  files: Array<{ path: string }>;
}

let work: string;
let packed: PackResult;
let tarball: string;
let consumer: string;

/** An environment with no AWS credentials, profile or region: what a fresh machine has. */
function noAws(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !name.startsWith('AWS_') && !name.startsWith('CDK_'),
    ),
  );
  return { ...env, AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' };
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'scram-rotator-pack-'));
  // npm pack runs prepack (npm run build) as it would before a publish.
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', work], {
    cwd: ROOT,
    timeout: 180_000,
  });
  packed = (JSON.parse(stdout) as PackResult[])[0] as PackResult;
  tarball = join(work, packed.filename);

  // A fresh CDK app that depends on the tarball, installed offline. The
  // peers (aws-cdk-lib, constructs) are this checkout's, linked: they are
  // what the app would bring itself, and linking keeps the test offline.
  consumer = join(work, 'consumer');
  mkdirSync(consumer);
  writeFileSync(
    join(consumer, 'package.json'),
    JSON.stringify({
      name: 'consumer',
      private: true,
      type: 'module',
      dependencies: { 'scram-rotator': `file:${tarball}` },
    }),
  );
  await run('npm', ['install', '--offline', '--legacy-peer-deps', '--no-audit', '--no-fund'], {
    cwd: consumer,
    timeout: 120_000,
  });
  for (const peer of ['aws-cdk-lib', 'constructs']) {
    symlinkSync(join(ROOT, 'node_modules', peer), join(consumer, 'node_modules', peer), 'dir');
  }
}, 300_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('npm pack', () => {
  it('holds the construct, its declarations and the prebuilt function, and nothing else', ({
    annotate,
  }) => {
    const message = `package ${packed.filename}: ${packed.size} bytes packed, ${packed.unpackedSize} unpacked, ${packed.files.length} files`;
    annotate(message);
    process.stdout.write(`${message}\n`);
    const paths = packed.files.map((file) => file.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'package.json',
        'README.md',
        'LICENSE',
        'dist/index.js',
        'dist/index.cjs',
        'dist/types-cjs/package.json',
        'dist/types-cjs/infra/index.d.ts',
        'dist/types/infra/index.d.ts',
        'dist/function/index.mjs',
        'dist/function/index.mjs.map',
        'dist/cli.mjs',
      ]),
    );
    // The docs the README links to, and the bench report and chart the
    // performance page links to; no local stack, tests, benchmark code or
    // sources (the CLI is bundled in dist/cli.mjs), and no docs/incoming drafts.
    for (const path of paths) {
      expect(path).toMatch(
        /^(package\.json|README\.md|LICENSE|dist\/.+|docs\/[^/]+\.md|bench\/(report\.md|chart\.svg))$/,
      );
    }
  });

  it('holds every page of the docs and every file their relative links point at', () => {
    const paths = new Set(packed.files.map((file) => file.path));
    const missing: string[] = [];
    for (const page of docPages()) {
      if (!paths.has(page)) missing.push(page);
      for (const { target } of links(readPage(page))) {
        if (/^[a-z][a-z\d+.-]*:/i.test(target)) continue; // a web address
        const [path = ''] = target.split('#', 1);
        if (path === '') continue; // an anchor on the same page
        const file = resolveFrom(page, decodeURIComponent(path));
        if (!paths.has(file)) missing.push(`${page} -> ${file}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('is as big as docs/deploy-and-operate.md says, within a quarter', () => {
    // The page gives the tarball's size ("about N kB"); a figure that drifts
    // further than this from what npm packs is out of date.
    const page = readFileSync(join(ROOT, 'docs/deploy-and-operate.md'), 'utf8').replace(
      /\s+/g,
      ' ',
    );
    const stated = new RegExp(`${packed.filename.replace(/\./g, '\\.')}\` \\(about (\\d+) kB`).exec(
      page,
    )?.[1];
    expect(stated).toBeDefined();
    expect(Math.abs(Number(stated) * 1000 - packed.size)).toBeLessThanOrEqual(packed.size / 4);
  });

  it('depends on nothing but its peers aws-cdk-lib and constructs', () => {
    const manifest = JSON.parse(
      execFileSync('tar', ['-xzOf', tarball, 'package/package.json'], { encoding: 'utf8' }),
    ) as Record<string, unknown>;
    // The function's dependencies are in its bundle; the local stack's and
    // the tests' are devDependencies, which an install never fetches.
    expect(manifest.dependencies).toBeUndefined();
    expect(Object.keys(manifest.peerDependencies as object).sort()).toEqual([
      'aws-cdk-lib',
      'constructs',
    ]);
    expect(manifest.exports).toEqual({
      '.': {
        import: { types: './dist/types/infra/index.d.ts', default: './dist/index.js' },
        require: { types: './dist/types-cjs/infra/index.d.ts', default: './dist/index.cjs' },
      },
      './package.json': './package.json',
    });
    // moduleResolution node (node10) reads main and types, not exports.
    expect(manifest).toMatchObject({
      main: './dist/index.cjs',
      types: './dist/types-cjs/infra/index.d.ts',
    });
  });
});

describe('the installed package in a fresh CDK app', () => {
  it('synthesizes offline with the cdk CLI and no credentials, deploying the prebuilt bundle', async () => {
    writeFileSync(
      join(consumer, 'app.mjs'),
      [
        "import { App, Stack } from 'aws-cdk-lib';",
        "import { Secret } from 'aws-cdk-lib/aws-secretsmanager';",
        "import { ScramRotator } from 'scram-rotator';",
        'const app = new App();',
        "const stack = new Stack(app, 'Consumer', { env: { account: '111122223333', region: 'eu-west-1' } });",
        "new ScramRotator(stack, 'Rotation', { secrets: [Secret.fromSecretNameV2(stack, 'App', 'prod/app')] });",
        'app.synth();',
      ].join('\n'),
    );
    writeFileSync(join(consumer, 'cdk.json'), JSON.stringify({ app: 'node app.mjs' }));
    await run(
      join(ROOT, 'node_modules/.bin/cdk'),
      ['synth', '--quiet', '--no-notices', '--output', 'cdk.out'],
      { cwd: consumer, env: noAws(), timeout: 120_000 },
    );
    const template = JSON.parse(
      readFileSync(join(consumer, 'cdk.out/Consumer.template.json'), 'utf8'),
    ) as { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
    const resources = Object.values(template.Resources);
    const fn = resources.find((r) => r.Type === 'AWS::Lambda::Function');
    // The default runtime: the newest Node.js one the app's aws-cdk-lib lists.
    expect(fn?.Properties).toMatchObject({
      Handler: 'index.handler',
      Runtime: latestNodeRuntime().name,
    });
    expect(
      resources.filter((r) => r.Type === 'AWS::SecretsManager::RotationSchedule'),
    ).toHaveLength(1);
    const code = fn?.Properties.Code as { S3Key: string } | undefined;
    const key = code?.S3Key.replace(/\.zip$/, '');
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    const asset = join(consumer, 'cdk.out', `asset.${key}`);
    // The bundle that was packed, without its source map (off by default)
    // or the comment naming it.
    expect(readdirSync(asset)).toEqual(['index.mjs']);
    const packedBundle = readFileSync(
      join(consumer, 'node_modules/scram-rotator/dist/function/index.mjs'),
      'utf8',
    );
    expect(readFileSync(join(asset, 'index.mjs'), 'utf8')).toBe(
      packedBundle.replace(/\n\/\/# sourceMappingURL=index\.mjs\.map\n?$/, ''),
    );
  });

  it('ships the Apache-2.0 license its manifest names', () => {
    const manifest = JSON.parse(
      execFileSync('tar', ['-xzOf', tarball, 'package/package.json'], { encoding: 'utf8' }),
    ) as { license: string };
    const license = execFileSync('tar', ['-xzOf', tarball, 'package/LICENSE'], {
      encoding: 'utf8',
    });
    expect(manifest.license).toBe('Apache-2.0');
    expect(license).toMatch(/^\s*Apache License\s+Version 2\.0, January 2004/);
    expect(license).toContain('END OF TERMS AND CONDITIONS');
  });

  it('reads its CommonJS declarations as CommonJS and its ES module ones as ES modules', () => {
    const read = (path: string) =>
      execFileSync('tar', ['-xzOf', tarball, `package/${path}`], { encoding: 'utf8' });
    expect(JSON.parse(read('dist/types-cjs/package.json'))).toEqual({ type: 'commonjs' });
    expect(read('dist/types-cjs/infra/index.d.ts')).toBe(read('dist/types/infra/index.d.ts'));
  });

  it('loads from CommonJS with its CommonJS build', () => {
    const out = execFileSync(
      process.execPath,
      [
        '-e',
        "const m = require('scram-rotator'); process.stdout.write(typeof m.ScramRotator + ' ' + require.resolve('scram-rotator').endsWith('dist/index.cjs'))",
      ],
      { cwd: consumer, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    expect(out).toBe('function true');
  });

  it('type-checks a TypeScript app against its declarations, library checks on', async () => {
    writeFileSync(
      join(consumer, 'app.ts'),
      [
        "import { App, Duration, Stack } from 'aws-cdk-lib';",
        "import { Secret } from 'aws-cdk-lib/aws-secretsmanager';",
        "import { RotatorConfigError, ScramRotator, type ScramRotatorProps } from 'scram-rotator';",
        'const app = new App();',
        "const stack = new Stack(app, 'Consumer');",
        'const props: ScramRotatorProps = {',
        "  secrets: [Secret.fromSecretNameV2(stack, 'App', 'prod/app')],",
        '  rotationWindow: Duration.hours(2),',
        "  rotationMode: 'admin',",
        '  sourceMaps: false,',
        '};',
        "const rotator = new ScramRotator(stack, 'Rotation', props);",
        'export const arns: readonly string[] = rotator.secretArns;',
        'export const isConfigError = (e: unknown) => e instanceof RotatorConfigError;',
        '// @ts-expect-error: rotationMode takes the documented modes only',
        "export const wrong: ScramRotatorProps = { secrets: [], rotationMode: 'root' };",
      ].join('\n'),
    );
    writeFileSync(
      join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          types: ['node'],
          typeRoots: [join(ROOT, 'node_modules/@types')],
        },
        include: ['app.ts'],
      }),
    );
    const result = await run(
      process.execPath,
      [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', consumer],
      { cwd: consumer, timeout: 120_000 },
    ).catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? 'tsc failed' }));
    expect(result.stdout).toBe('');
  });
});

describeInstalledCli(() => consumer);
