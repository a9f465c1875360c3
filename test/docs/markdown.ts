/**
 * Just enough Markdown for the docs tests: the pages, their headings as
 * GitHub anchors, and their links, outside code.
 *
 * @module
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout's root. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Where other branches leave text for the docs until it is merged into the
 * pages: not part of the published docs, so not checked.
 */
const INCOMING = 'docs/incoming';

/** README.md and every page under docs/ (docs/incoming/ left out), as paths from the root. */
export function docPages(): string[] {
  const pages = ['README.md'];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) {
        if (path !== INCOMING) walk(path);
      } else if (entry.name.endsWith('.md')) {
        pages.push(path);
      }
    }
  };
  walk('docs');
  return pages.sort();
}

/** A page's text, by its path from the root. */
export function readPage(path: string): string {
  return readFileSync(join(ROOT, path), 'utf8');
}

/** A page's lines with fenced code blocks blanked (their lines kept, so numbers stay true). */
export function proseLines(text: string): string[] {
  let fence: string | undefined;
  return text.split('\n').map((line) => {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (marker && (fence === undefined || marker.startsWith(fence))) {
      fence = fence === undefined ? marker : undefined;
      return '';
    }
    return fence === undefined ? line : '';
  });
}

/** A line without its inline code spans, which hold literals, not links or figures. */
export function withoutCode(line: string): string {
  return line.replace(/(`+)[^`]*?\1/g, '');
}

/**
 * The anchor GitHub gives a heading: its text as rendered (links and code
 * reduced to their text), lower-cased, with everything but letters,
 * marks, digits, connector punctuation, hyphens and spaces removed, and
 * spaces turned into hyphens (github-slugger's rule).
 */
export function slug(heading: string): string {
  const text = heading.replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/`/g, '');
  return text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-');
}

/** The anchors of a page's headings, duplicates numbered as GitHub does (`-1`, `-2`, ...). */
export function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const line of proseLines(text)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const base = slug(heading);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.add(count === 0 ? base : `${base}-${count}`);
  }
  return result;
}

/** A link found on a page: where it points, and the line it is on (1-based). */
export interface Link {
  readonly target: string;
  readonly line: number;
}

/** The page's inline links and images (`[text](target)`, `![alt](src)`), outside code. */
export function links(text: string): Link[] {
  const found: Link[] = [];
  proseLines(text).forEach((line, index) => {
    for (const match of withoutCode(line).matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      found.push({ target: match[1] ?? '', line: index + 1 });
    }
  });
  return found;
}

/** The path of `target` (a path from `page`'s folder) from the root. */
export function resolveFrom(page: string, target: string): string {
  return relative(ROOT, join(ROOT, page, '..', target));
}
