/**
 * The bench's Markdown report and its SVG chart (concurrency and iteration
 * counts), both drawn from the results object alone.
 *
 * @module
 */
import type { ModeResult } from './modes.js';
import type { BenchResults } from './results.js';
import { type Stats, spread } from './stats.js';
import { type Phases, phaseTotal } from './wire.js';

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
const ms = (value: number) => `${Math.round(value * 10) / 10} ms`;
const pct = (part: number, whole: number) =>
  whole > 0 ? `${Math.round((part / whole) * 100)}%` : '-';

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return [
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ].join('\n');
}

/** One login's cost on the wire: connect, TLS, startup, SCRAM, session, close. */
function perLogin(phases: Phases): number {
  if (phases.connections === 0) return 0;
  const sum =
    phases.tcpMs +
    phases.tlsMs +
    phases.startupMs +
    phases.scramMs +
    phases.sessionMs +
    phases.closeMs;
  return sum / phases.connections;
}

function breakdown(mode: ModeResult): string {
  const p = mode.phases;
  const wall = mode.rotationMs;
  const ownWork = Math.max(0, mode.inFunctionMs - phaseTotal(p));
  const dispatch = Math.max(0, wall - mode.inFunctionMs);
  const rows: [string, number, string][] = [
    ['Secrets Manager round trips', p.smMs, `${p.smRequests} requests`],
    ['TCP connect', p.tcpMs, `${p.connections} connections`],
    ['TLS handshake (with SSLRequest)', p.tlsMs, ''],
    ['startup to SASL request (backend fork, HBA)', p.startupMs, ''],
    ['SCRAM exchange (PBKDF2 both sides, 2 round trips)', p.scramMs, ''],
    ['session start (AuthenticationOk to ReadyForQuery)', p.sessionMs, ''],
    ['statements', p.statementMs, `${p.statements} statements`],
    ['closing connections', p.closeMs, ''],
    [
      "the function's own work: checks, the verifier's PBKDF2, SDK request building",
      ownWork,
      'time in the four invocations minus the above',
    ],
    [
      'outside the function: RotateSecret, the endpoint calling each step',
      dispatch,
      'rotation minus time in the invocations',
    ],
  ];
  return table(
    ['phase', 'median per rotation', 'share', 'count'],
    rows.map(([name, value, count]) => [name, ms(value), pct(value, wall), count]),
  );
}

function stepCells(mode: ModeResult): string[] {
  return (['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const).map(
    (step) => `${mode.stepMs[step].median}`,
  );
}

function coldRow(name: string, fn: Stats, floor: Stats): string[] {
  return [
    name,
    spread(fn),
    spread(floor),
    `${Math.round((fn.median / floor.median) * 100) / 100}x`,
  ];
}

/** The Markdown report. */
export function renderReport(results: BenchResults): string {
  const { bundle } = results;
  const single = results.modes.find((m) => m.mode === 'single-user');
  const admin = results.modes.find((m) => m.mode === 'admin');
  const smRoundTrip =
    single && single.phases.smRequests > 0 ? single.phases.smMs / single.phases.smRequests : 0;
  const login = single ? perLogin(single.phases) : 0;
  const out: string[] = [];
  out.push(
    '# scram-rotator bench',
    '',
    `${results.quick ? 'Quick run' : 'Full run'} of \`npm run bench${results.quick ? ' -- --quick' : ''}\`, ${results.date}: Node.js ${results.node}, ${results.cpus} CPUs, load average ${results.loadAverage} when it started, ${Math.round(results.durationMs / 1000)} s. Times are medians, with the 10th-90th percentile spread in parentheses; the machine is shared, so read ratios and counts before absolute times.`,
    '',
    '![Concurrent rotations and PBKDF2 cost](chart.svg)',
    '',
    '## Budget',
    '',
    table(
      ['check', 'figure', 'limit', ''],
      results.checks.map((c) => [c.name, c.figure, c.limit, c.ok ? 'ok' : '**BROKEN**']),
    ),
    '',
    '## Bundle and cold start, side by side',
    '',
    "The floor is a handler using only `@aws-sdk/client-secrets-manager` and `pg` (bench/floor.ts), built with the function's own esbuild options and externals. Cold start: a fresh Node.js process imports the bundle and handles one testSecret event of a staged rotation (two Secrets Manager calls, one verify-full SCRAM login, one statement); the floor does the same I/O. " +
      `${bundle.coldStart.pairs} interleaved pairs (ABBA order), after one pair thrown away.`,
    '',
    table(
      ['', 'function', 'floor', 'ratio'],
      [
        [
          'bundle',
          `${bundle.bytes} bytes (${kib(bundle.bytes)})`,
          `${bundle.floorBytes} bytes (${kib(bundle.floorBytes)})`,
          `${bundle.ratio}x`,
        ],
        [
          'source map (not shipped by default)',
          kib(bundle.mapBytes),
          kib(bundle.floorMapBytes),
          '',
        ],
        coldRow(
          'cold start: import + first event',
          bundle.coldStart.fn.coldStart,
          bundle.coldStart.floor.coldStart,
        ),
        coldRow('of which import', bundle.coldStart.fn.import, bundle.coldStart.floor.import),
        coldRow(
          'of which first event',
          bundle.coldStart.fn.firstEvent,
          bundle.coldStart.floor.firstEvent,
        ),
        coldRow(
          'CPU time of import + first event',
          bundle.coldStart.fn.cpu,
          bundle.coldStart.floor.cpu,
        ),
        coldRow(
          'Node.js start before the import',
          bundle.coldStart.fn.boot,
          bundle.coldStart.floor.boot,
        ),
      ],
    ),
    '',
    ...('pairs' in bundle.sourceMaps
      ? [
          `With its source map and \`--enable-source-maps\` (the construct's \`sourceMaps: true\`; ${bundle.sourceMaps.pairs} interleaved pairs against the function as deployed):`,
          '',
          table(
            ['', 'without (default)', 'with source maps', 'ratio'],
            [
              coldRow(
                'cold start: import + first event',
                bundle.sourceMaps.with.coldStart,
                bundle.sourceMaps.without.coldStart,
              ),
              coldRow(
                'of which import',
                bundle.sourceMaps.with.import,
                bundle.sourceMaps.without.import,
              ),
            ].map(([name, withMaps, without, r]) => [
              name ?? '',
              without ?? '',
              withMaps ?? '',
              r ?? '',
            ]),
          ),
          '',
        ]
      : []),
    'What the function carries beyond the floor:',
    '',
    table(
      ['package or folder', 'bytes'],
      bundle.beyondFloor.map(({ name, bytes }) => [name, String(bytes)]),
    ),
    '',
    '## Calls and logins per rotation',
    '',
    "Counted outside the function: Secrets Manager requests as the local endpoint received them (signed with the function's access key), logins and statements as PostgreSQL logged them (`log_connections`, `log_statement`). Per rotation, the most any rotation made.",
    '',
    table(
      [
        'mode',
        'Secrets Manager calls',
        'logins',
        'failed logins',
        'statements',
        'rotation',
        'createSecret',
        'setSecret',
        'testSecret',
        'finishSecret',
        'rotations',
      ],
      results.modes.map((m) => [
        m.mode,
        `${m.smCalls} (${Object.entries(m.smCallsByOperation)
          .map(([op, n]) => `${op} ${n}`)
          .join(', ')})`,
        String(m.dbLogins),
        String(m.failedLogins),
        String(m.statements),
        spread(m.rotation),
        ...stepCells(m),
        `${m.rotations}${m.consistent ? '' : ' (counts varied)'}`,
      ]),
    ),
    '',
    ...results.modes.filter((m) => m.extra !== '').map((m) => `- ${m.mode}: ${m.extra}.`),
    '',
    "## What a rotation's time goes to",
    '',
    "Watched on the wire from outside the function (bench/wire.ts): its PostgreSQL sockets message by message, its Secrets Manager requests through Node's HTTP diagnostics channels.",
    '',
  );
  for (const mode of results.modes) {
    out.push(`### ${mode.mode} (rotation ${ms(mode.rotationMs)})`, '', breakdown(mode), '');
  }
  out.push(
    '### What was cut',
    '',
    `- setSecret reads AWSPREVIOUS only when AWSCURRENT fails to log in: one Secrets Manager round trip less per rotation (${ms(smRoundTrip)} here; 12 calls became ${single?.smCalls ?? '-'}).`,
    `- Admin mode no longer tries the pending password before the admin logs in: one failed login less per rotation (a login costs ${ms(login)} here, on top of the server's failed-authentication handling); admin logins now ${admin?.dbLogins ?? '-'} successful, ${admin?.failedLogins ?? '-'} failed.`,
    "- finishSecret promotes on testSecret's in-memory proof: no third login in the usual case.",
    `- The bundle: zod's classic API (and the 64 locale files \`import { z } from 'zod'\` pulls in) was 444 KiB of a 904 KiB bundle, for valibot; Powertools Logger and Metrics, 33 KiB, for lambda/telemetry.ts. Now ${kib(bundle.bytes)} in all, ${bundle.ratio}x the floor.`,
    'pairs' in bundle.sourceMaps
      ? `- Source maps are off by default: ${kib(bundle.mapBytes)} less in the zip, and no \`--enable-source-maps\` (in this run: import ${ms(bundle.sourceMaps.with.import.median)} with it, ${ms(bundle.sourceMaps.without.import.median)} without).`
      : `- Source maps are off by default: ${kib(bundle.mapBytes)} less in the zip, and no \`--enable-source-maps\` (the full run measures what it costs).`,
    '',
  );
  if ('results' in results.concurrency) {
    const { maxConnections, results: rows } = results.concurrency;
    out.push(
      '## Concurrent rotations',
      '',
      `N secrets rotated at once through RotateSecret by one single-user function against one PostgreSQL (max_connections ${maxConnections}), fresh secrets each run.`,
      '',
      table(
        ['N', 'runs', 'total', 'per rotation', 'failed', 'peak connections', 'why they failed'],
        rows.map((r) => [
          String(r.n),
          String(r.runs),
          spread(r.total),
          spread(r.perRotation),
          `${r.failures} of ${r.rotations}`,
          String(r.peakConnections),
          [
            ...Object.entries(r.failureReasons).map(([why, n]) => `${n}x ${why}`),
            ...Object.entries(r.serverFatal).map(([why, n]) => `server: ${n}x ${why}`),
          ].join('; ') || '-',
        ]),
      ),
      '',
    );
  } else {
    out.push('## Concurrent rotations', '', `Skipped: ${results.concurrency.skipped}.`, '');
  }
  out.push(
    '## SCRAM verifier and raw PBKDF2',
    '',
    table(
      ['iterations', 'verifier (createScramVerifierAsync)', 'raw PBKDF2 (the floor)', 'overhead'],
      results.verifiers.map((v) => [
        String(v.iterations),
        spread(v.verifier),
        spread(v.pbkdf2),
        ms(v.verifier.median - v.pbkdf2.median),
      ]),
    ),
    '',
  );
  const cpu = results.lambdaCpu;
  if (cpu.measured) {
    out.push(
      `On a 256 MB Lambda function's CPU share (cgroup ${cpu.cgroup} quota ${cpu.quotaUs} us per ${cpu.periodUs} us, ${Math.round((cpu.quotaUs / cpu.periodUs) * 1000) / 1000} vCPU), raw PBKDF2:`,
      '',
      table(
        ['iterations', 'PBKDF2'],
        cpu.pbkdf2.map((p) => [String(p.iterations), spread(p.ms)]),
      ),
      '',
    );
  } else {
    out.push(`PBKDF2 on a Lambda-sized CPU: not measured (${cpu.reason}).`, '');
  }
  out.push(
    `Local stack start (PostgreSQL and the endpoint): ${ms(results.localStackStartMs)}; peak resident memory of the bench process: ${results.peakRssMiB} MiB.`,
    '',
  );
  return out.join('\n');
}

/** Escapes text for SVG. */
function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

interface Series {
  readonly name: string;
  readonly color: string;
  readonly values: readonly (number | undefined)[];
}

/** A grouped bar chart on a log scale, drawn at (x, y) in a w×h box. */
function barPanel(
  title: string,
  categories: readonly string[],
  series: readonly Series[],
  notes: readonly string[],
  x: number,
  y: number,
  w: number,
  h: number,
): string {
  const values = series.flatMap((s) =>
    s.values.filter((v): v is number => v !== undefined && v > 0),
  );
  // A decade below the smallest bar, so that a bar of exactly 1 ms still shows.
  const lo = 10 ** Math.floor(Math.log10(Math.max(0.1, Math.min(...values)) * 0.99));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...values, 10)));
  const left = x + 48;
  const top = y + 40;
  const plotW = w - 60;
  const plotH = h - 124;
  const yOf = (v: number) =>
    top + plotH - ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotH;
  const parts: string[] = [
    `<text x="${x + w / 2}" y="${y + 20}" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`,
  ];
  for (let tick = lo; tick <= hi; tick *= 10) {
    const ty = yOf(tick);
    parts.push(
      `<line x1="${left}" x2="${left + plotW}" y1="${ty}" y2="${ty}" stroke="#ddd"/>`,
      `<text x="${left - 6}" y="${ty + 4}" text-anchor="end" font-size="11">${tick >= 1000 ? `${tick / 1000} s` : `${tick} ms`}</text>`,
    );
  }
  const groupW = plotW / categories.length;
  const barW = Math.min(28, (groupW - 16) / series.length);
  categories.forEach((category, i) => {
    const gx = left + i * groupW + (groupW - barW * series.length) / 2;
    series.forEach((s, j) => {
      const v = s.values[i];
      if (v === undefined || v <= 0) return;
      const by = yOf(v);
      parts.push(
        `<rect x="${gx + j * barW}" y="${by}" width="${barW - 2}" height="${top + plotH - by}" fill="${s.color}"><title>${esc(`${s.name}: ${Math.round(v * 10) / 10} ms`)}</title></rect>`,
      );
    });
    parts.push(
      `<text x="${left + i * groupW + groupW / 2}" y="${top + plotH + 16}" text-anchor="middle" font-size="12">${esc(category)}</text>`,
    );
    const note = notes[i];
    if (note) {
      parts.push(
        `<text x="${left + i * groupW + groupW / 2}" y="${top + plotH + 30}" text-anchor="middle" font-size="10" fill="#b00">${esc(note)}</text>`,
      );
    }
  });
  series.forEach((s, j) => {
    const ly = y + h - 44 + Math.floor(j / 2) * 16;
    const lx = x + 10 + (j % 2) * (w / 2);
    parts.push(
      `<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${s.color}"/>`,
      `<text x="${lx + 18}" y="${ly}" font-size="11">${esc(s.name)}</text>`,
    );
  });
  return parts.join('\n');
}

/** The SVG chart: concurrency on the left, iteration counts on the right. */
export function renderChart(results: BenchResults): string {
  const width = 960;
  const height = 400;
  const panels: string[] = [];
  if ('results' in results.concurrency) {
    const rows = results.concurrency.results;
    panels.push(
      barPanel(
        'Rotations at once: one function, one PostgreSQL',
        rows.map((r) => `N = ${r.n}`),
        [
          {
            name: 'each rotation (median)',
            color: '#4878a8',
            values: rows.map((r) => r.perRotation.median),
          },
          { name: 'all N done (median)', color: '#e0a040', values: rows.map((r) => r.totalMs) },
        ],
        rows.map((r) => (r.failures > 0 ? `${r.failures} of ${r.rotations} failed` : '')),
        0,
        0,
        width / 2,
        height,
      ),
    );
  }
  const cpu = results.lambdaCpu;
  panels.push(
    barPanel(
      'SCRAM verifier and PBKDF2 by iteration count',
      results.verifiers.map((v) => `${v.iterations}`),
      [
        {
          name: 'raw PBKDF2, one core',
          color: '#a0a0a0',
          values: results.verifiers.map((v) => v.pbkdf2.median),
        },
        {
          name: 'verifier, one core',
          color: '#4878a8',
          values: results.verifiers.map((v) => v.verifier.median),
        },
        ...(cpu.measured
          ? [
              {
                name: `raw PBKDF2, 256 MB Lambda CPU (${Math.round((cpu.quotaUs / cpu.periodUs) * 1000) / 1000} vCPU)`,
                color: '#c05050',
                values: results.verifiers.map(
                  (v) => cpu.pbkdf2.find((p) => p.iterations === v.iterations)?.ms.median,
                ),
              },
            ]
          : []),
      ],
      [],
      width / 2,
      0,
      width / 2,
      height,
    ),
  );
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" role="img">`,
    '<title>Rotations at once (time per rotation, time for all, failures) and PBKDF2 cost by iteration count</title>',
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    ...panels,
    `<text x="${width - 8}" y="${height - 6}" text-anchor="end" font-size="9" fill="#888">${esc(`npm run bench, ${results.date.slice(0, 10)}, Node.js ${results.node}, ${results.cpus} CPUs; medians, log scale`)}</text>`,
    '</svg>',
    '',
  ].join('\n');
}
