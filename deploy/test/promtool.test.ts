import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

/**
 * The Prometheus config and alert rules, checked by Prometheus' own tool: `promtool check` and
 * the rule unit tests of alerts.test.yml. promtool comes with Debian's `prometheus` package
 * (.ci/run installs it when missing).
 */
const DIR = join(import.meta.dirname, '..', 'prometheus');

/** The alerts the metrics contract (issue 10) names; alerts.yml may have more. */
const CONTRACT_ALERTS = [
  'FreshnessP99High',
  'BacklogGrowing',
  'NoAggregationLeader',
  'FailedJobs',
  'HighErrorRate',
  'MongoDBDown',
  'RedisDown',
  'MemoryNearLimit',
];

function promtool(...args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    execFile('promtool', args, { cwd: DIR }, (error, stdout, stderr) => {
      if (error !== null && typeof error.code !== 'number') {
        reject(new Error(`could not run promtool (${error.message}): install Debian's prometheus package`));
        return;
      }
      resolve({ code: error === null ? 0 : (error.code as number), output: `${stdout}${stderr}` });
    });
  });
}

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  annotations?: Record<string, string>;
}
interface RuleTest {
  name: string;
  alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[];
}

const rules = (parse(readFileSync(join(DIR, 'alerts.yml'), 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((group) => group.rules);
const alerts = rules.filter((rule) => rule.alert !== undefined);
const tests = (parse(readFileSync(join(DIR, 'alerts.test.yml'), 'utf8')) as { tests: RuleTest[] }).tests;

describe('promtool', () => {
  it('accepts the compose stack config and the rule files it loads', async () => {
    const result = await promtool('check', 'config', 'prometheus.yml');
    expect(result.code, result.output).toBe(0);
    expect(result.output).toContain('SUCCESS');
  });

  it('accepts the alert and recording rules', async () => {
    const result = await promtool('check', 'rules', 'alerts.yml');
    expect(result.code, result.output).toBe(0);
  });

  it('passes the rule unit tests (each alert firing on a failure, silent on healthy series)', async () => {
    const result = await promtool('test', 'rules', 'alerts.test.yml');
    expect(result.code, result.output).toBe(0);
    expect(result.output).toContain('SUCCESS');
  });
});

describe('alerts.yml', () => {
  it('has every alert of the metrics contract', () => {
    expect(alerts.map((rule) => rule.alert)).toEqual(expect.arrayContaining(CONTRACT_ALERTS));
  });

  it('gives every alert a summary, a description and a runbook link', () => {
    for (const rule of alerts) {
      expect(rule.annotations, rule.alert).toMatchObject({
        summary: expect.stringMatching(/\S/),
        description: expect.stringMatching(/\S/),
        runbook_url: `docs/runbook.md#${rule.alert!.toLowerCase()}`,
      });
    }
  });

  it('tests every alert both firing and not firing', () => {
    const cases = tests.flatMap((test) => test.alert_rule_test ?? []);
    for (const rule of alerts) {
      const own = cases.filter((c) => c.alertname === rule.alert);
      expect(
        own.some((c) => (c.exp_alerts ?? []).length > 0),
        `${rule.alert} fires in a test`,
      ).toBe(true);
      expect(
        own.some((c) => (c.exp_alerts ?? []).length === 0),
        `${rule.alert} stays silent in a test`,
      ).toBe(true);
    }
  });
});
