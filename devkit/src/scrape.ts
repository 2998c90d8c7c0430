/** One sample of Prometheus' text format: `name{label="value",...} 12.5`. */
export interface MetricSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** The samples of a /metrics answer (comments and blank lines skipped). */
export function parseMetrics(text: string): MetricSample[] {
  const samples: MetricSample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = SAMPLE.exec(line);
    if (match === null) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(LABEL)) labels[key!] = value!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** A scrape of one /metrics endpoint, over real HTTP. */
export class MetricsScrape {
  readonly samples: readonly MetricSample[];
  readonly status: number;
  readonly contentType: string | null;

  constructor(samples: readonly MetricSample[], status: number, contentType: string | null) {
    this.samples = samples;
    this.status = status;
    this.contentType = contentType;
  }

  /** The series of `name` whose labels include `labels`. */
  series(name: string, labels: Readonly<Record<string, string>> = {}): MetricSample[] {
    return this.samples.filter((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value));
  }

  /** The sum of those series, or undefined when there is none. */
  value(name: string, labels: Readonly<Record<string, string>> = {}): number | undefined {
    const series = this.series(name, labels);
    return series.length === 0 ? undefined : series.reduce((sum, sample) => sum + sample.value, 0);
  }
}

/** GETs a /metrics URL and parses the answer. */
export async function scrapeMetrics(url: string): Promise<MetricsScrape> {
  const response = await fetch(url);
  return new MetricsScrape(parseMetrics(await response.text()), response.status, response.headers.get('content-type'));
}
