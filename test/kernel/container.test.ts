import { expect } from 'chai';
import { ServiceContainer, NuvomError } from '../../sdk/plugin.ts';

interface S { queue: { name: string }; logger: string; [k: string]: unknown }

describe('service container', () => {
  it('resolves the implementation the configuration chooses and never builds the others', () => {
    const c = new ServiceContainer<S>();
    const built: string[] = [];
    c.provide('p1', 'queue', 'sqlite', () => { built.push('sqlite'); return { name: 'sqlite' }; });
    c.provide('p2', 'queue', 'memory', () => { built.push('memory'); return { name: 'memory' }; });
    c.select('queue', 'memory');
    expect(c.resolve('queue').name).to.equal('memory');
    expect(c.resolve('queue')).to.equal(c.resolve('queue'));
    expect(built).to.deep.equal(['memory']);
  });

  it('names the available implementations when the chosen one is missing', () => {
    const c = new ServiceContainer<S>();
    c.provide('p1', 'queue', 'sqlite', () => ({ name: 'sqlite' }));
    c.select('queue', 'redis');
    expect(() => c.resolve('queue')).to.throw(NuvomError, /no implementation named "redis"; available: sqlite/);
  });

  it('refuses one implementation name from two plugins', () => {
    const c = new ServiceContainer<S>();
    c.provide('p1', 'queue', 'sqlite', () => ({ name: 'a' }));
    expect(() => c.provide('p2', 'queue', 'sqlite', () => ({ name: 'b' }))).to.throw(/provided by both "p1" and "p2"/);
  });

  it('passes dependencies lazily and disposes newest first', async () => {
    const c = new ServiceContainer<S>();
    const disposed: string[] = [];
    c.value('logger', 'log');
    c.provide('p', 'db', 'x', () => 'db', () => { disposed.push('db'); });
    c.provide('p', 'queue', 'x', (s) => ({ name: `queue on ${s.db as string} with ${s.logger}` }), () => { disposed.push('queue'); });
    expect(c.resolve('queue').name).to.equal('queue on db with log');
    await c.dispose();
    expect(disposed).to.deep.equal(['queue', 'db']);
  });

  it('wraps a failing factory in an error naming the plugin and service', () => {
    const c = new ServiceContainer<S>();
    c.provide('broken-plugin', 'queue', 'x', () => { throw new Error('cannot open file'); });
    expect(() => c.resolve('queue')).to.throw(/plugin "broken-plugin".*could not build service "queue".*cannot open file/);
  });
});
