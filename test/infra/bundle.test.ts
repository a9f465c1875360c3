import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../infra/app.js';
import { CA_BUNDLE_FILE, ScramRotator } from '../../infra/scram-rotator.js';
import { CA_FIXTURE, CDK_JSON_CONTEXT, ENV, secretArn } from './helpers.js';

/**
 * The most the bundled handler (index.mjs, minified, AWS SDK included) may
 * weigh: a ceiling that catches what would blow it up (a second copy of the
 * SDK, a source map inlined, a dependency pulled in whole). The tighter
 * budget, 1.2x a floor of only the SDK client and pg, is the bench's
 * (bench/budget.ts); docs/deploy-and-operate.md states both.
 */
const BUNDLE_BUDGET_BYTES = 1024 * 1024;

let outdir: string;
let assetDir: string;

beforeAll(() => {
  // Outside the project: the bundle must load with no node_modules above it.
  outdir = mkdtempSync(join(tmpdir(), 'scram-rotator-bundle-'));
  const { app, stack } = createApp({
    context: { ...CDK_JSON_CONTEXT, caBundlePath: CA_FIXTURE },
    outdir,
    env: ENV,
  });
  app.synth();
  const functions = Template.fromStack(stack).findResources('AWS::Lambda::Function');
  const [code] = Object.values(functions).map(
    (fn) => (fn as { Properties: { Code: { S3Key: string } } }).Properties.Code.S3Key,
  );
  assetDir = join(outdir, `asset.${code?.replace(/\.zip$/, '')}`);
}, 60_000);

afterAll(() => {
  rmSync(outdir, { recursive: true, force: true });
});

/** Runs a script against the bundle in a plain Node.js process, as Lambda would load it. */
function inNode(script: string, env: Record<string, string> = {}): string {
  return execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: assetDir,
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    // The handler's own log lines (stderr) stay out of the test output.
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

describe('the bundled function', () => {
  it('stays within its size budget', ({ annotate }) => {
    const size = statSync(join(assetDir, 'index.mjs')).size;
    const message = `bundle index.mjs: ${size} bytes (${(size / 1024).toFixed(0)} KiB), budget ${BUNDLE_BUDGET_BYTES} bytes`;
    // An annotation (shown by vitest's reporters), and a line on stdout,
    // which vitest's silent: 'passed-only' leaves alone, unlike console.log.
    annotate(message);
    process.stdout.write(`${message}\n`);
    expect(size).toBeLessThanOrEqual(BUNDLE_BUDGET_BYTES);
  });

  it('has the ceiling docs/deploy-and-operate.md states', () => {
    const page = readFileSync(new URL('../../docs/deploy-and-operate.md', import.meta.url), 'utf8');
    expect(page.replace(/\s+/g, ' ')).toContain(
      `a ${BUNDLE_BUDGET_BYTES / 2 ** 20} MiB ceiling in \`test/infra/bundle.test.ts\``,
    );
  });

  it('ships no source map by default, and none inlined', () => {
    expect(readdirSync(assetDir).sort()).toEqual([CA_BUNDLE_FILE, 'index.mjs']);
    // Not inlined, and not named either: nothing points at a map.
    expect(readFileSync(join(assetDir, 'index.mjs'), 'utf8')).not.toContain('sourceMappingURL');
  });

  it('ships the source map beside the bundle with sourceMaps, mapping back to lambda/ sources', () => {
    const out = mkdtempSync(join(tmpdir(), 'scram-rotator-bundle-maps-'));
    try {
      const app = new App({ context: CDK_JSON_CONTEXT, outdir: out });
      const stack = new Stack(app, 'Maps', { env: ENV });
      new ScramRotator(stack, 'Rotator', {
        secrets: [secretsmanager.Secret.fromSecretCompleteArn(stack, 'S', secretArn('prod/a'))],
        sourceMaps: true,
      });
      app.synth();
      const [code] = Object.values(
        Template.fromStack(stack).findResources('AWS::Lambda::Function'),
      ).map((fn) => (fn as { Properties: { Code: { S3Key: string } } }).Properties.Code.S3Key);
      const dir = join(out, `asset.${code?.replace(/\.zip$/, '')}`);
      expect(readdirSync(dir).sort()).toEqual(['index.mjs', 'index.mjs.map']);
      expect(readFileSync(join(dir, 'index.mjs'), 'utf8')).toMatch(
        /\n\/\/# sourceMappingURL=index\.mjs\.map\n?$/,
      );
      const map = JSON.parse(readFileSync(join(dir, 'index.mjs.map'), 'utf8')) as {
        sources: string[];
      };
      expect(map.sources.some((source) => source.endsWith('lambda/index.ts'))).toBe(true);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('loads without node_modules and exports handler as a function', () => {
    const out = inNode(
      "const m = await import('./index.mjs'); console.log(JSON.stringify({ handler: typeof m.handler }));",
    );
    expect(JSON.parse(out.trim().split('\n').pop() ?? '{}')).toEqual({ handler: 'function' });
  });

  it('runs its middleware: an event Secrets Manager would never send is refused', () => {
    const out = inNode(
      [
        "const { handler } = await import('./index.mjs');",
        "const context = { functionName: 'f', awsRequestId: 'r', getRemainingTimeInMillis: () => 30000 };",
        "try { await handler({ Step: 'dropTable' }, context); console.log('RESULT accepted'); }",
        "catch (error) { console.log('RESULT ' + error.name); }",
      ].join('\n'),
      { AWS_REGION: ENV.region },
    );
    expect(out).toContain('RESULT InvalidEventError');
  });

  it('carries the CA bundle where CA_BUNDLE_PATH points', () => {
    expect(readFileSync(join(assetDir, CA_BUNDLE_FILE), 'utf8')).toBe(
      readFileSync(CA_FIXTURE, 'utf8'),
    );
  });
});
