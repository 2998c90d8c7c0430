/**
 * Summarizes a V8 CPU profile (from BENCH_PROFILE=<process,...> npm run bench): where the
 * process spent its time, by package and by function (self time).
 *   node bench/profile.ts bench/results/profiles/gateway-<time>.cpuprofile [--top 30]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '30' } } });
if (positionals.length !== 1) {
  console.error('usage: node bench/profile.ts <file.cpuprofile> [--top 30]');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(positionals[0]!, 'utf8')) as { nodes: ProfileNode[]; samples: number[]; startTime: number; endTime: number };
const hits = new Map<number, number>();
for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
const total = profile.samples.length;
const seconds = (profile.endTime - profile.startTime) / 1e6;

/** node_modules/<package>, the project's own files, node internals, or V8 itself. */
function packageOf(url: string, name: string): string {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (match !== null) return match[1]!;
  if (url.startsWith('node:')) return 'node (runtime)';
  if (url.startsWith('file://')) return 'project';
  return name === '(garbage collector)' ? 'garbage collector' : name === '(idle)' || name === '(program)' ? name : 'other';
}

const byPackage = new Map<string, number>();
const byFunction = new Map<string, number>();
for (const node of profile.nodes) {
  const count = hits.get(node.id) ?? 0;
  if (count === 0) continue;
  const { functionName, url, lineNumber } = node.callFrame;
  const pkg = packageOf(url, functionName);
  byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + count);
  const key = `${functionName || '(anonymous)'} ${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(?=[^/]+\/[^/]+$)/, '')}:${lineNumber + 1}`;
  byFunction.set(key, (byFunction.get(key) ?? 0) + count);
}
const busy = total - (byPackage.get('(idle)') ?? 0);
const pct = (n: number) => `${((100 * n) / total).toFixed(1)}%`.padStart(6);
console.log(`${positionals[0]}: ${seconds.toFixed(1)} s, ${total} samples, busy ${pct(busy)}`);
console.log('\nby package (self time):');
for (const [name, count] of [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(`  ${pct(count)}  ${name}`);
console.log('\nby function (self time):');
for (const [name, count] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) console.log(`  ${pct(count)}  ${name}`);
