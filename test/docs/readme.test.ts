import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { anchors, docPages, links, proseLines, ROOT, readPage, resolveFrom } from './markdown.js';

const README = readPage('README.md');
const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  engines: { node: string };
  allowScripts: Record<string, boolean>;
};
const ci = readFileSync(join(ROOT, '.ci/run'), 'utf8');

/** README.md's text with line breaks and runs of spaces as one space. */
const flat = README.replace(/\s+/g, ' ');

describe('the README', () => {
  it('is a landing page of at most 300 lines', () => {
    expect(README.split('\n').length).toBeLessThanOrEqual(300);
  });

  it('gives the two commands that set up a fresh machine, and CI runs them', () => {
    expect(README).toContain('\nnpm ci && npm run demo\n');
    expect(README).toContain('\nnpm ci && npm test\n');
    expect(manifest.scripts.demo).toBeDefined();
    expect(manifest.scripts.test).toBeDefined();
    const commands = ci.split('\n').map((line) => line.replace(/#.*$/, '').trim());
    const run = (command: string) =>
      commands.some(
        (line) => line === command || new RegExp(`^(\\S+=\\S+ )+${command}$`).test(line),
      );
    expect(commands.some((line) => /^npm ci( |$)/.test(line))).toBe(true);
    expect(run('npm test')).toBe(true);
    expect(run('npm run demo')).toBe(true);
  });

  it("names the Node.js versions of package.json's engines", () => {
    // "^20.19.0 || ^22.12.0 || >=24.0.0" reads "20.19+, 22.12+ or 24".
    const versions = manifest.engines.node.split('||').map((range) => {
      const [, op = '', major = '', minor = '0'] = /^\s*(\^|>=)(\d+)\.(\d+)/.exec(range) ?? [];
      return op === '>=' || minor === '0' ? major : `${major}.${minor}+`;
    });
    const said = `${versions.slice(0, -1).join(', ')} or ${versions.at(-1)}`;
    expect(flat).toContain(`Node.js ${said}`);
  });

  it("names the install scripts package.json's allowScripts approves and refuses", () => {
    for (const [name, allowed] of Object.entries(manifest.allowScripts)) {
      expect({ name, named: flat.includes(name) }).toEqual({ name, named: true });
      if (allowed) expect(flat).toContain(`approves the one install script`);
    }
  });

  it('links to every docs page', () => {
    const linked = new Set(
      links(README).map(({ target }) => resolveFrom('README.md', target.split('#')[0] ?? '')),
    );
    const pages = docPages().filter((page) => page !== 'README.md');
    expect(pages.filter((page) => !linked.has(page))).toEqual([]);
  });
});

describe('a docs page longer than 150 lines', () => {
  it('opens with a contents list that links each of its sections', () => {
    const missing: string[] = [];
    for (const page of docPages().filter((path) => path.startsWith('docs/'))) {
      const text = readPage(page);
      if (text.split('\n').length <= 150) continue;
      const sections = proseLines(text).filter((line) => /^## /.test(line));
      if (sections[0] !== '## Contents') {
        missing.push(`${page}: no "## Contents" as its first section`);
        continue;
      }
      const contents = text.slice(
        text.indexOf('## Contents'),
        text.indexOf('\n## ', text.indexOf('## Contents') + 1),
      );
      const listed = new Set(links(contents).map(({ target }) => target.replace(/^#/, '')));
      for (const anchor of anchors(sections.slice(1).join('\n'))) {
        if (!listed.has(anchor)) missing.push(`${page}: contents lack #${anchor}`);
      }
    }
    expect(missing).toEqual([]);
  });
});
