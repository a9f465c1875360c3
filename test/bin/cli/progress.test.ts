import { describe, expect, it } from 'vitest';
import { progressLine } from '../../../bin/cli/progress.js';

/** A stand-in for stderr or stdout that records what is written. */
function stream(isTTY: boolean) {
  const written: string[] = [];
  return { isTTY, written, write: (text: string) => written.push(text) };
}

describe('progressLine', () => {
  it('draws on a terminal, clears before each report line, and leaves nothing behind', () => {
    const err = stream(true);
    const out = stream(false);
    const progress = progressLine('adopt', { quiet: false, stream: err, out });
    progress(0, 3);
    progress.say('ROTATED app_1');
    progress(1, 3);
    progress(3, 3);
    progress.done();
    expect(out.written).toEqual(['ROTATED app_1\n']);
    expect(err.written).toEqual([
      '\r\u001b[Kadopt: 0 of 3 user(s) ...',
      '\r\u001b[K',
      '\r\u001b[Kadopt: 0 of 3 user(s) ...',
      '\r\u001b[Kadopt: 1 of 3 user(s) ...',
      '\r\u001b[Kadopt: 3 of 3 user(s)',
      '\r\u001b[K',
    ]);
  });

  it('stays quiet under --json, and when stderr is not a terminal', () => {
    for (const [quiet, isTTY] of [
      [true, true],
      [false, false],
    ] as const) {
      const err = stream(isTTY);
      const out = stream(false);
      const progress = progressLine('audit', { quiet, stream: err, out });
      progress(1, 2);
      progress.say('PASS  x');
      progress.done();
      expect(err.written).toEqual([]);
      expect(out.written).toEqual(['PASS  x\n']);
    }
  });
});
