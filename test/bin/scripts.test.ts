import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const { scripts } = JSON.parse(readFileSync('package.json', 'utf8')) as {
  scripts: Record<string, string>;
};

describe('the npm scripts', () => {
  it('run TypeScript in node itself, so Ctrl-C reaches the process that cleans up', () => {
    // The tsx CLI runs the script in a child process and, when the child is
    // slow to acknowledge a signal (about 60 ms, e.g. on a busy machine),
    // kills it with SIGKILL: local:up then left its server's folder behind.
    const viaTsxCli = Object.entries(scripts).filter(([, command]) =>
      command.split(/&&|;|\|/).some((part) => /^(npx )?tsx\s/.test(part.trim())),
    );
    expect(viaTsxCli).toEqual([]);
    const typescript = Object.entries(scripts).filter(([, command]) => /\.ts(\s|$)/.test(command));
    expect(typescript.length).toBeGreaterThan(5);
    // The operator commands are aliases of the one program the package installs.
    for (const name of ['rotate', 'doctor', 'hash', 'provision', 'adopt', 'audit']) {
      expect(scripts[name]).toBe(`node --import tsx bin/scram-rotator.ts ${name}`);
    }
    for (const [name, command] of typescript) {
      if (command.startsWith('vitest') || command.includes('vitest ')) continue;
      // A subcommand word may follow: `npm run doctor` is `scram-rotator doctor`.
      expect({ name, command }).toEqual({
        name,
        command: expect.stringMatching(/^node --import tsx \S+\.ts( [a-z]+)?$/),
      });
    }
  });
});
