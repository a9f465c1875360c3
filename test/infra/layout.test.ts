import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const INFRA = fileURLToPath(new URL('../../infra/', import.meta.url));
/** Issue 21: the construct split by concern, no file of it this long or longer. */
const MAX_LINES = 600;

describe('infra/', () => {
  it(`holds no file of more than ${MAX_LINES} lines`, () => {
    const long = readdirSync(INFRA)
      .filter((name) => name.endsWith('.ts'))
      .map((name) => ({ name, lines: readFileSync(`${INFRA}${name}`, 'utf8').split('\n').length }))
      .filter(({ lines }) => lines > MAX_LINES);
    expect(long).toEqual([]);
  });

  it('names each of its concern files in the table of contents of scram-rotator.ts', () => {
    const contents = readFileSync(`${INFRA}scram-rotator.ts`, 'utf8');
    for (const file of [
      'props.ts',
      'secrets.ts',
      'function.ts',
      'function-code.ts',
      'permissions.ts',
      'network.ts',
      'rotation-schedule.ts',
      'alarms.ts',
      'outputs.ts',
    ]) {
      expect(contents).toContain(` * - ${file}`);
    }
  });
});
