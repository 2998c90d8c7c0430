import { IDENTITY_HEADER, signInternalIdentity } from '@recs/shared';
import { pool, summarize, type Summary } from '../lib/stats.ts';
import type { BenchSystem } from '../lib/system.ts';

export interface QueryResult {
  readonly concurrency: number;
  readonly requests: number;
  /** Timed requests only: one that failed (reset, timed out or answered with errors) is counted in `failed`, not timed. */
  readonly gatewayMs: Summary;
  readonly subgraphMs: Summary;
  readonly failed: { readonly gateway: number; readonly subgraph: number };
  /** Gateway latency over the recommendations subgraph's alone. */
  readonly overheadP50: number;
  readonly overheadP99: number;
}

const THROUGH_GATEWAY = `query ($u: ID!) { recommendations(userId: $u, limit: 10) { items { product { name price category { name } } } } }`;
const DIRECT = `query ($u: ID!) { recommendations(userId: $u, limit: 10) { items { product { id } score reasons } } }`;

/**
 * The recommendations of random users through the gateway (the list from the recommendations
 * subgraph, product fields from the products subgraph), and the list part alone from the
 * recommendations subgraph, both at `concurrency` clients.
 */
export async function measureQuery(system: BenchSystem, users: readonly string[], requests: number, concurrency: number): Promise<QueryResult> {
  const picks = Array.from({ length: requests }, (_, i) => users[(i * 7919) % users.length]!);
  const failed = { gateway: 0, subgraph: 0 };
  const run = async (url: string, query: string, headers: Record<string, string>, target: keyof typeof failed) => {
    const latencies: number[] = [];
    // warm-up: connections, query plans, caches
    await pool(picks.slice(0, 200), concurrency, async (user) => void (await system.post(url, query, { u: user }, headers)));
    await pool(picks, concurrency, async (user) => {
      const started = performance.now();
      const result = await system.post(url, query, { u: user }, headers);
      if (result.errors !== undefined) failed[target]++;
      else latencies.push(performance.now() - started);
    });
    return summarize(latencies);
  };
  const gatewayMs = await run(system.gatewayUrl, THROUGH_GATEWAY, {}, 'gateway');
  const identity = await signInternalIdentity({ kind: 'authenticated', subject: 'bench', role: 'service' }, system.secret, DIRECT);
  const subgraphMs = await run(system.recommendationsUrl, DIRECT, { [IDENTITY_HEADER]: identity }, 'subgraph');
  return {
    concurrency,
    requests,
    gatewayMs,
    subgraphMs,
    failed,
    overheadP50: Math.round((gatewayMs.p50 / subgraphMs.p50) * 100) / 100,
    overheadP99: Math.round((gatewayMs.p99 / subgraphMs.p99) * 100) / 100,
  };
}
