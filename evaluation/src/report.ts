import type { EvaluationResult, ResultRow, Segment } from './evaluate.ts';
import { leadsOverBaselines, strongestBaseline, type LeadMetric } from './leads.ts';

export const METRICS = [
  ['precision', 'Precision@k'],
  ['recall', 'Recall@k'],
  ['ndcg', 'NDCG@k'],
  ['hitRate', 'HitRate@k'],
  ['novelty', 'Novelty@5'],
  ['itemCoverage', 'Item coverage'],
  ['userCoverage', 'User coverage'],
] as const satisfies readonly (readonly [keyof ResultRow, string])[];

const label = (name: string, k: number) => name.replace('@k', `@${k}`);

/** Marks the strongest baseline of its segment in the table. */
export const STRONGEST_MARK = '*';

/** The results as a fixed-width table, one line per strategy and segment; the strongest baseline of each segment marked. */
export function formatTable(result: EvaluationResult): string {
  const header = ['segment', 'strategy', ...METRICS.map(([, name]) => label(name, result.k)), 'n'];
  const strongest = new Map<string, string | undefined>();
  const isStrongest = (row: ResultRow) => {
    if (!strongest.has(row.segment)) strongest.set(row.segment, strongestBaseline(result, row.segment));
    return strongest.get(row.segment) === row.strategy;
  };
  const rows = [...result.results]
    .sort((a, b) => (a.segment === b.segment ? 0 : a.segment < b.segment ? 1 : -1))
    .map((row) => [
      row.segment,
      isStrongest(row) ? `${row.strategy} ${STRONGEST_MARK}` : row.strategy,
      ...METRICS.map(([key]) => row[key].toFixed(key === 'novelty' ? 2 : 4)),
      String(row.n),
    ]);
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

const METRIC_LABELS: Record<LeadMetric, string> = { recall: 'Recall@k', ndcg: 'NDCG@k' };
const percent = (lift: number) => (Number.isNaN(lift) ? 'n/a' : `${lift >= 0 ? '+' : '−'}${Math.abs(100 * lift).toFixed(1)}%`);

/**
 * What the mark means and, per segment, how each non-baseline strategy (`served`) did against the
 * strongest baseline: its lead (or gap) in Recall@k and NDCG@k, each against the baseline best on
 * that metric. Empty when no baseline or no other strategy was scored.
 */
export function formatLeads(result: EvaluationResult): string {
  const leads = leadsOverBaselines(result);
  if (leads.length === 0) return '';
  const lines = [
    `${STRONGEST_MARK} strongest baseline of its segment: the highest ${label('Recall@k', result.k)} of the baselines (${result.baselines.join(', ')})`,
  ];
  const segments = [...new Set(leads.map((lead) => lead.segment))] as Segment[];
  const width = Math.max(...segments.map((segment) => segment.length));
  for (const strategy of new Set(leads.map((lead) => lead.strategy))) {
    lines.push(`${strategy} against the strongest baseline (on each metric, the baseline best on it):`);
    for (const lead of leads.filter((l) => l.strategy === strategy)) {
      const parts = (Object.entries(lead.metrics) as [LeadMetric, (typeof lead.metrics)[LeadMetric]][]).map(
        ([metric, { value, baseline, best, lift }]) =>
          `${label(METRIC_LABELS[metric], result.k)} ${value.toFixed(4)} vs ${best.toFixed(4)} ${baseline}: ${percent(lift)} (${lift > 0 ? 'ahead' : lift < 0 ? 'behind' : 'level'})`,
      );
      lines.push(`  ${lead.segment.padEnd(width)}  ${parts.join('; ')}`);
    }
  }
  return lines.join('\n');
}

const count = (n: number) => Math.round(n).toLocaleString('en');

/** How long the replay and the whole evaluation took, and the replay's rate per tenth (flat when per-event cost does not grow with history). */
export function formatReplay(result: EvaluationResult): string {
  const { replay } = result;
  return [
    `replay: ${count(replay.events)} training purchases in ${replay.seconds.toFixed(1)} s (${count(replay.eventsPerSecond)} events/s); whole evaluation ${result.seconds.toFixed(1)} s`,
    `replay per tenth of its events (events/s): ${replay.rate.tenths.map((slice) => count(slice.eventsPerSecond)).join(' · ')}; last tenth / first: ${replay.rate.lastToFirst.toFixed(2)}`,
    `replay per tenth, per CPU second of this process (steadier on a shared machine): ${replay.rate.tenths.map((slice) => count(slice.eventsPerCpuSecond)).join(' · ')}; last tenth / first: ${replay.rate.cpuLastToFirst.toFixed(2)}`,
  ].join('\n');
}

/** The JSON file's shape: `{ k, split, results: [...] }` and how the figures were made. */
export function toJson(result: EvaluationResult): string {
  const round = (value: number) => Math.round(value * 1e6) / 1e6;
  return JSON.stringify(
    {
      k: result.k,
      split: result.split,
      until: result.until,
      results: result.results.map((row) => ({
        strategy: row.strategy,
        segment: row.segment,
        precision: round(row.precision),
        recall: round(row.recall),
        ndcg: round(row.ndcg),
        hitRate: round(row.hitRate),
        novelty: round(row.novelty),
        itemCoverage: round(row.itemCoverage),
        userCoverage: round(row.userCoverage),
        n: row.n,
      })),
      data: result.data,
      catalogSize: result.catalogSize,
      customers: result.customers,
      strategies: result.strategies,
      baselines: result.baselines,
      leads: leadsOverBaselines(result).map(({ strategy, segment, strongest, metrics }) => ({
        strategy,
        segment,
        strongest,
        ...Object.fromEntries(
          Object.entries(metrics).map(([metric, lead]) => [metric, { ...lead, best: round(lead.best), value: round(lead.value), lift: round(lead.lift) }]),
        ),
      })),
      replay: {
        events: result.replay.events,
        seconds: round(result.replay.seconds),
        eventsPerSecond: Math.round(result.replay.eventsPerSecond),
        tenths: result.replay.rate.tenths.map((slice) => ({
          events: slice.events,
          seconds: round(slice.seconds),
          eventsPerSecond: Math.round(slice.eventsPerSecond),
          cpuSeconds: round(slice.cpuSeconds),
          eventsPerCpuSecond: Math.round(slice.eventsPerCpuSecond),
        })),
        lastToFirst: round(result.replay.rate.lastToFirst),
        cpuLastToFirst: round(result.replay.rate.cpuLastToFirst),
      },
      seconds: round(result.seconds),
    },
    null,
    2,
  );
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const COLOURS = ['#4e79a7', '#f28e2b', '#76b7b2', '#59a14f', '#e15759', '#b07aa1', '#edc948'];

/** One grouped bar chart (segments × strategies) as inline SVG. */
function chart(result: EvaluationResult, key: (typeof METRICS)[number][0], title: string): string {
  const segments = ['warm', 'cold', 'all'] as const;
  const strategies = [...new Set(result.results.map((row) => row.strategy))];
  const value = (segment: string, strategy: string) => result.results.find((row) => row.segment === segment && row.strategy === strategy)?.[key] ?? 0;
  const max = Math.max(1e-9, ...result.results.map((row) => row[key]));
  const bar = 22;
  const groupWidth = strategies.length * bar + 30;
  const width = 60 + segments.length * groupWidth;
  const height = 220;
  const plot = 160;
  const parts: string[] = [];
  segments.forEach((segment, g) => {
    const x0 = 50 + g * groupWidth;
    strategies.forEach((strategy, s) => {
      const v = value(segment, strategy);
      const h = (v / max) * plot;
      const x = x0 + s * bar;
      parts.push(
        `<rect x="${x}" y="${20 + plot - h}" width="${bar - 4}" height="${h}" fill="${COLOURS[s % COLOURS.length]}"><title>${escapeHtml(`${strategy} · ${segment}: ${v.toFixed(4)}`)}</title></rect>`,
        `<text x="${x + (bar - 4) / 2}" y="${16 + plot - h}" font-size="8" text-anchor="middle">${v.toFixed(key === 'novelty' ? 1 : 3)}</text>`,
      );
    });
    parts.push(`<text x="${x0 + (strategies.length * bar) / 2}" y="${plot + 38}" font-size="12" text-anchor="middle">${segment}</text>`);
  });
  parts.push(`<line x1="45" y1="${20 + plot}" x2="${width}" y2="${20 + plot}" stroke="#999"/>`);
  return `<figure><figcaption>${escapeHtml(label(title, result.k))}</figcaption><svg viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img">${parts.join('')}</svg></figure>`;
}

/** A self-contained HTML report: a chart per metric and the table; no network needed. */
export function toHtml(result: EvaluationResult): string {
  const strategies = [...new Set(result.results.map((row) => row.strategy))];
  const legend = strategies
    .map(
      (strategy, s) =>
        `<li><span style="background:${COLOURS[s % COLOURS.length]}"></span><b>${escapeHtml(strategy)}</b>: ${escapeHtml(result.strategies[strategy] ?? '')}</li>`,
    )
    .join('');
  const span = result.until === null ? `from ${result.split}` : `from ${result.split} to ${result.until}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Recommendation quality, split ${escapeHtml(result.split)}</title>
<style>
body{font:14px system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
figure{display:inline-block;margin:0 1.5em 1.5em 0;vertical-align:top}figcaption{font-weight:600;margin-bottom:.3em}
ul.legend{list-style:none;padding:0}ul.legend span{display:inline-block;width:.9em;height:.9em;margin-right:.4em;vertical-align:-1px}
pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:12px}
</style></head><body>
<h1>Recommendation quality</h1>
<p>Invoices ${escapeHtml(span)} scored at k = ${result.k}: ${result.customers.warm} warm customers (bought before the split), ${result.customers.cold} cold;
${result.catalogSize} products; ${result.replay.events} training purchases replayed at ${Math.round(result.replay.eventsPerSecond)} events/s.
Data: Online Retail, UCI Machine Learning Repository (Daqing Chen, 2015), CC BY 4.0.</p>
<ul class="legend">${legend}</ul>
${METRICS.map(([key, title]) => chart(result, key, title)).join('\n')}
<h2>Table</h2>
<pre>${escapeHtml([formatTable(result), formatLeads(result)].filter((text) => text !== '').join('\n\n'))}</pre>
</body></html>
`;
}
