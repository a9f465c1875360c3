import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { anchors, docPages, links, ROOT, readPage, resolveFrom, slug } from './markdown.js';

/** Every link of README.md and docs/ that does not resolve, as `page:line -> target: why`. */
function brokenLinks(): string[] {
  const broken: string[] = [];
  for (const page of docPages()) {
    for (const { target, line } of links(readPage(page))) {
      // Web addresses are outside the checkout; only relative links are checked.
      if (/^[a-z][a-z\d+.-]*:/i.test(target)) continue;
      const [path = '', anchor] = target.split('#', 2);
      const file = path === '' ? page : resolveFrom(page, decodeURIComponent(path));
      const where = `${page}:${line} -> ${target}`;
      if (file.startsWith('..') || !existsSync(join(ROOT, file))) {
        broken.push(`${where}: no such file`);
        continue;
      }
      if (anchor === undefined) continue;
      if (!file.endsWith('.md') || statSync(join(ROOT, file)).isDirectory()) {
        broken.push(`${where}: an anchor into a file that is not a Markdown page`);
      } else if (!anchors(readPage(file)).has(anchor)) {
        broken.push(`${where}: no heading with that anchor in ${file}`);
      }
    }
  }
  return broken;
}

describe('the links of the README and the docs', () => {
  it('all point at files that exist and headings that are there', () => {
    expect(brokenLinks()).toEqual([]);
  });

  it('are found in README.md and every docs page, and there are many', () => {
    const pages = docPages();
    expect(pages).toContain('README.md');
    expect(pages).toContain('docs/strategies.md');
    expect(pages.every((page) => !page.startsWith('docs/incoming/'))).toBe(true);
    const count = pages.reduce((sum, page) => sum + links(readPage(page)).length, 0);
    expect(count).toBeGreaterThan(50);
  });
});

describe('GitHub anchors of headings', () => {
  it('drop punctuation and code marks and join words with hyphens', () => {
    expect(slug('Performance and budget: `npm run bench`')).toBe(
      'performance-and-budget-npm-run-bench',
    );
    expect(slug('What a rotation costs, and where its time goes')).toBe(
      'what-a-rotation-costs-and-where-its-time-goes',
    );
    expect(slug('When testSecret fails: roll-back')).toBe('when-testsecret-fails-roll-back');
    expect(slug('The secret_format (v2.1) & more')).toBe('the-secret_format-v21--more');
    expect(slug('[Linked](x.md) heading')).toBe('linked-heading');
  });

  it('number repeated headings as GitHub does', () => {
    expect([...anchors('# Setup\n## Setup\n## Setup\n```\n# not a heading\n```\n')]).toEqual([
      'setup',
      'setup-1',
      'setup-2',
    ]);
  });
});

describe('the link check', () => {
  it('finds links in prose and images, not in code', () => {
    const text = [
      'See [a](a.md#x) and ![chart](../c.svg "title").',
      'Not `[code](b.md)`.',
      '```',
      '[fenced](c.md)',
      '```',
    ].join('\n');
    expect(links(text)).toEqual([
      { target: 'a.md#x', line: 1 },
      { target: '../c.svg', line: 1 },
    ]);
  });
});
