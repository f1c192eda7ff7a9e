import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '../../sdk/index.ts';
import { isNuvomError } from '../../sdk/plugin.ts';
import { cleanupTempProjects, monitoringClient, monitoringProject } from './helpers.ts';

const toml = (settings: string) => `[plugins]
monitoring = ["nuvom/plugins/event-log"]

[settings.nuvom-event-log]
${settings}
`;

type Line = Record<string, unknown> & { event: string; jobId: string; taskName: string; attempt: number; at: string };

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe('event-log plugin: to a file', function () {
  this.timeout(30_000);
  let raw: string;
  let lines: Line[];
  const ids: Record<string, string> = {};

  before(async () => {
    const dir = await monitoringProject('evl', toml('path = "logs/events.jsonl"'));
    const { client } = await monitoringClient(dir);
    try {
      await client.startWorker({ threads: 1 });
      for (const [name, args] of [['ok', [4]], ['boom', []], ['flaky', []]] as const) {
        const h = await client.enqueue(`evl.${name}`, [...args]);
        ids[name] = h.id;
        await h.result({ timeoutSecs: 15 }).catch(() => undefined);
      }
    } finally {
      await client.close(); // stop() flushes the file
    }
    raw = readFileSync(path.join(dir, 'logs/events.jsonl'), 'utf8');
    lines = raw.trimEnd().split('\n').map((l) => JSON.parse(l) as Line);
  });
  after(() => cleanupTempProjects());

  it('writes one valid JSON object per line, each ending in a newline', () => {
    expect(raw.endsWith('\n')).to.equal(true);
    expect(lines.length).to.be.at.least(13);
    for (const l of lines) expect(l).to.be.an('object');
  });

  it('gives every line the event, jobId, taskName, attempt and an ISO-8601 UTC time', () => {
    for (const l of lines) {
      expect(l.event).to.be.a('string');
      expect(l.jobId).to.be.a('string');
      expect(l.taskName).to.match(/^evl\./);
      expect(l.attempt).to.be.a('number');
      expect(l.at).to.match(ISO);
    }
  });

  it("follows a job's life: enqueued, claimed, started, succeeded, with its timings", () => {
    const mine = lines.filter((l) => l.jobId === ids.ok);
    expect(mine.map((l) => l.event)).to.deep.equal(['jobEnqueued', 'jobClaimed', 'jobStarted', 'jobSucceeded']);
    expect(mine.map((l) => l.attempt)).to.deep.equal([0, 1, 1, 1]);
    expect(mine[2].waitMs).to.be.a('number');
    expect(mine[2].threadId).to.be.a('number');
    expect(mine[3].runMs).to.be.a('number');
    expect(mine[3].workerId).to.be.a('string');
  });

  it('carries the error of a failure, and the ISO time of the next attempt of a retry', () => {
    const failed = lines.find((l) => l.jobId === ids.boom && l.event === 'jobFailed')!;
    expect(failed.error).to.include({ name: 'TypeError', message: 'boom' });
    const flaky = lines.filter((l) => l.jobId === ids.flaky);
    expect(flaky.map((l) => l.event)).to.deep.equal(['jobEnqueued', 'jobClaimed', 'jobStarted', 'jobRetryScheduled', 'jobClaimed', 'jobStarted', 'jobSucceeded']);
    const retry = flaky[3];
    expect(retry.nextRunAt).to.match(ISO);
    expect(retry.error).to.include({ message: 'first attempt fails' });
    expect(flaky[6].attempt).to.equal(2);
  });

  it('logs job events only, unless thread events are asked for', () => {
    expect(lines.every((l) => l.event.startsWith('job'))).to.equal(true);
  });
});

describe('event-log plugin: settings and stderr', function () {
  this.timeout(30_000);
  after(() => cleanupTempProjects());

  it('writes to stderr when no path is set, and adds thread events when asked', async () => {
    const dir = await monitoringProject('evl2', toml('events = ["jobEnqueued", "jobSucceeded", "workerStarted"]'));
    const written: string[] = [];
    const original = process.stderr.write;
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      if (typeof chunk === 'string' && chunk.startsWith('{"event":')) { written.push(chunk); return true; }
      return (original as (...a: unknown[]) => boolean).call(process.stderr, chunk, ...rest);
    }) as typeof process.stderr.write;
    let client: Client | undefined;
    try {
      ({ client } = await monitoringClient(dir));
      await client.startWorker({ threads: 1 });
      const h = await client.enqueue('evl2.ok', [1]);
      expect(await h.result({ timeoutSecs: 15 })).to.equal(2);
      await client.close();
    } finally {
      process.stderr.write = original;
      await client?.close();
    }
    const events = written.map((l) => JSON.parse(l) as { event: string; jobId?: string; workerId?: string; threads?: number });
    expect(events.map((e) => e.event)).to.deep.equal(['workerStarted', 'jobEnqueued', 'jobSucceeded']);
    expect(events[0]).to.include({ threads: 1 });
    expect(events[0].workerId).to.be.a('string');
  });

  it('refuses an unknown event name, naming the plugin and the known ones', async () => {
    const dir = await monitoringProject('evl3', toml('events = ["jobExploded"]'));
    const err = await monitoringClient(dir).catch((e: unknown) => e);
    expect(isNuvomError(err, 'NUVOM_E_CONFIG'), String(err)).to.equal(true);
    expect((err as Error).message).to.contain('nuvom-event-log');
    expect((err as Error).message).to.contain('jobRetryScheduled');
  });
});
