/**
 * CI runs every test file once: `npm test` with SKIP_RELIABILITY_REPEATS=1
 * leaves out the files the reliability run repeats, so that run must follow
 * on the same Node.js, and what it leaves out must be real test files.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RELIABILITY_REPEATS } from '../vitest.reliability.config.js';

const CI = readFileSync(new URL('../.ci/run', import.meta.url), 'utf8');
const commands = CI.split('\n')
  .map((line) => line.trim())
  .filter((line) => line !== '' && !line.startsWith('#'));

describe('the CI script', () => {
  it('leaves out of npm test only files that exist, each a test file', () => {
    expect(RELIABILITY_REPEATS.length).toBeGreaterThan(0);
    for (const file of RELIABILITY_REPEATS) {
      expect(file).toMatch(/\.test\.ts$/);
      expect(existsSync(new URL(`../${file}`, import.meta.url)), file).toBe(true);
    }
  });

  it('runs the reliability run, on the same Node.js, wherever npm test skips its files', () => {
    const skipping = commands.filter((line) => line.includes('SKIP_RELIABILITY_REPEATS=1'));
    expect(skipping.length).toBeGreaterThan(0);
    for (const line of skipping) {
      const [path] = line.match(/^PATH="[^"]*"/) ?? [''];
      const next = commands[commands.indexOf(line) + 1] ?? '';
      expect(next).toBe(`${path}${path ? ' ' : ''}npm run test:reliability:quick`);
    }
  });
});
