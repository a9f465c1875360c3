/**
 * The code stands in floors whose imports point one way: no module reaches,
 * through any chain of imports, back to itself, and in the function each
 * folder imports only from the floors below it. Read from the source as it
 * is on disk, so a new import that points up fails here, before review.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Every relative module specifier in a TypeScript source (imports, re-exports, dynamic imports). */
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(?\s*)['"](\.{1,2}\/[^'"]+)['"]/g;

/** The files a source imports, as paths relative to the repository root. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  return [...text.matchAll(SPECIFIER)].map((match) =>
    relative(ROOT, resolve(ROOT, dirname(file), (match[1] ?? '').replace(/\.js$/, '.ts'))),
  );
}

function sourcesUnder(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.ts') && !name.endsWith('.d.ts'))
    .map((name) => join(dir, name));
}

/** The import graph of the sources under `dirs`, edges kept only between those sources. */
function importGraph(dirs: readonly string[]): Map<string, string[]> {
  const files = dirs.flatMap(sourcesUnder);
  const known = new Set(files);
  return new Map(files.map((file) => [file, importsOf(file).filter((to) => known.has(to))]));
}

/** Every cycle of the graph, one per strongly connected component of more than one file (Tarjan). */
function cyclesOf(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, index.size);
    low.set(node, index.get(node) ?? 0);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node) ?? 0, low.get(next) ?? 0));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node) ?? 0, index.get(next) ?? 0));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    for (let member = stack.pop(); member !== undefined; member = stack.pop()) {
      onStack.delete(member);
      component.push(member);
      if (member === node) break;
    }
    const selfImport = graph.get(node)?.includes(node) ?? false;
    if (component.length > 1 || selfImport) cycles.push(component.sort());
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return cycles;
}

/**
 * The function's floors, top to bottom: a folder (or top-level module) may
 * import only from a floor below its own. Folders on one floor do not import
 * each other.
 */
const LAMBDA_FLOORS = [
  ['index'], // the handler: middy pipeline, adapters built once
  ['middleware', 'rotate'], // the event's checks; the exhaustive switch on the step
  ['steps'], // one file per step: load, decide, ask the strategy, prove
  ['strategies'], // who changes the password
  ['rotation'], // what steps and strategies share
  ['engines'], // what each engine runs
  ['config'],
  ['core', 'adapters'], // pure rules and I/O edges
  ['telemetry'],
  ['errors'],
] as const satisfies readonly (readonly string[])[];

/** The floor of a file under lambda/: its folder, or its own name for a top-level module. */
function floorOf(file: string): string {
  const [, first = '', second] = file.split('/');
  return second === undefined ? first.replace(/\.ts$/, '') : first;
}

const rankOf = (floor: string): number =>
  LAMBDA_FLOORS.findIndex((names) => (names as readonly string[]).includes(floor));

describe('the import graph', () => {
  it('finds a cycle when there is one, however long', () => {
    const graph = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
      ['d.ts', ['a.ts']],
    ]);
    expect(cyclesOf(graph)).toEqual([['a.ts', 'b.ts', 'c.ts']]);
    expect(cyclesOf(new Map([['a.ts', ['a.ts']]]))).toEqual([['a.ts']]);
    expect(cyclesOf(new Map([['a.ts', ['b.ts']]]))).toEqual([]);
  });

  it('reads type-only imports and re-exports as imports', () => {
    const edges = importsOf('lambda/adapters/in-flight.ts');
    expect(edges).toContain('lambda/adapters/database.ts'); // `import type`
    expect(importsOf('bin/doctor/checks.ts')).toContain('bin/doctor/result.ts'); // `export ... from`
  });

  it('has no cycle in the function, the construct, the CLIs or the local stack', () => {
    const graph = importGraph(['lambda', 'infra', 'bin', 'local']);
    expect(graph.size).toBeGreaterThan(50);
    expect(cyclesOf(graph)).toEqual([]);
  });
});

describe('the function', () => {
  it('imports only from floors below, so a step reads: load, decide, ask the strategy, prove', () => {
    const graph = importGraph(['lambda']);
    const upward: string[] = [];
    for (const [from, targets] of graph) {
      for (const to of targets) {
        const [a, b] = [floorOf(from), floorOf(to)];
        if (a === b) continue;
        expect(rankOf(a), `${from} stands on no floor`).toBeGreaterThanOrEqual(0);
        expect(rankOf(b), `${to} stands on no floor`).toBeGreaterThanOrEqual(0);
        if (rankOf(b) <= rankOf(a)) upward.push(`${from} -> ${to}`);
      }
    }
    expect(upward).toEqual([]);
  });
});
