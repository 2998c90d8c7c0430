import { METRIC_PREFIX } from '@recs/shared';

/** One sample of a Prometheus text exposition: `name{label="value",...} 123`. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** The samples of a /metrics answer (comments and blank lines skipped). */
export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = LINE.exec(line);
    if (match === null) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(LABEL)) labels[key!] = value!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/**
 * The value of the first sample named `name` (or METRIC_PREFIX + name: the services prefix
 * their default metrics too) whose labels include `labels`; NaN when there is none.
 */
export function sampleValue(samples: readonly Sample[], name: string, labels: Readonly<Record<string, string>> = {}): number {
  const sample = samples.find(
    (s) => (s.name === name || s.name === `${METRIC_PREFIX}${name}`) && Object.entries(labels).every(([key, value]) => s.labels[key] === value),
  );
  return sample?.value ?? Number.NaN;
}
