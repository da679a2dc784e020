/** The memory kernel: SPI allocation, ADD/UPDATE rules, expiry by time and bytes, events, dump. */
import assert from 'node:assert/strict';

import { MemoryKernel } from '../../../src/kernel/memory';
import { KernelErr, type ExpireEvent, type IpsecSaSpec } from '../../../src/kernel/types';
import { ManualClock } from '../../../src/util/clock';
import { OakleyError } from '../../../src/util/errors';
import { SeededRng } from '../../../src/util/prng';

const US = '192.0.2.1';
const PEER = '198.51.100.2';

function spec(spi: number, over: Partial<IpsecSaSpec> = {}): IpsecSaSpec {
  return {
    src: PEER, dst: US, spi, protocol: 'esp', direction: 'inbound', mode: 'tunnel', encapsulation: { type: 'none' },
    encryption: { alg: 'aes-cbc', key: Buffer.alloc(16, 1) }, integrity: { alg: 'hmac-sha256', key: Buffer.alloc(32, 2) },
    lifetimes: { soft: { seconds: 90, bytes: 0 }, hard: { seconds: 100, bytes: 0 } }, replayWindow: 64, ...over,
  };
}

function setup(seed = 1) {
  const clock = new ManualClock();
  const rng = new SeededRng(seed);
  const k = new MemoryKernel({ clock, random32: () => rng.nextUint32() });
  const expires: ExpireEvent[] = [];
  k.events.on('expire', (e) => expires.push(e));
  return { clock, k, expires };
}

describe('MemoryKernel', () => {
  it('allocates unique SPIs, never 0..255, even when the RNG repeats itself', async () => {
    const clock = new ManualClock();
    const seq = [5, 5, 300, 300, 0xffffffff, 7, 301];
    let i = 0;
    const k = new MemoryKernel({ clock, random32: () => seq[i++ % seq.length] });
    const spis = [];
    for (let n = 0; n < 4; n++) spis.push(await k.getSpi({ src: PEER, dst: US, protocol: 'esp' }));
    assert.equal(new Set(spis).size, 4);
    assert.ok(spis.every((s) => s >= 256), String(spis));
    const { k: k2 } = setup(9);
    const many = new Set<number>();
    for (let n = 0; n < 2000; n++) many.add(await k2.getSpi({ src: PEER, dst: US, protocol: 'esp', range: { min: 256, max: 4000 } }));
    assert.equal(many.size, 2000);
    assert.ok([...many].every((s) => s >= 256 && s <= 4000));
  });

  it('UPDATE completes a larval SA; ADD refuses an existing SPI; UPDATE refuses unknown or mature SAs', async () => {
    const { k } = setup();
    const spi = await k.getSpi({ src: PEER, dst: US, protocol: 'esp' });
    assert.equal((await k.querySa({ dst: US, spi, protocol: 'esp' }))?.state, 'larval');
    await k.updateSa(spec(spi));
    assert.equal((await k.querySa({ dst: US, spi, protocol: 'esp' }))?.state, 'mature');
    const code = (c: string) => (e: unknown) => OakleyError.is(e, c);
    await assert.rejects(k.updateSa(spec(spi)), code(KernelErr.BAD_SA));
    await assert.rejects(k.updateSa(spec(spi + 1)), code(KernelErr.NO_SUCH_SA));
    await assert.rejects(k.addSa(spec(spi)), code(KernelErr.SA_EXISTS));
    await assert.rejects(k.addSa(spec(100)), code(KernelErr.BAD_SA));
    await assert.rejects(k.addSa(spec(1000, { encryption: { alg: 'aes-gcm', key: Buffer.alloc(16) } , integrity: undefined })), code(KernelErr.BAD_SA));
    await k.addSa(spec(5000, { src: US, dst: PEER, direction: 'outbound' }));
    assert.equal(k.size, 2);
  });

  it('fires soft then hard expiry by time, and removes the SA at hard', async () => {
    const { k, clock, expires } = setup();
    await k.addSa(spec(1000));
    clock.advance(89_999);
    assert.equal(expires.length, 0);
    clock.advance(1);
    assert.deepEqual(expires.map((e) => [e.kind, e.by, clock.now()]), [['soft', 'seconds', 90_000]]);
    clock.advance(10_000);
    assert.deepEqual(expires.map((e) => e.kind), ['soft', 'hard']);
    assert.equal(await k.querySa({ dst: US, spi: 1000, protocol: 'esp' }), undefined);
  });

  it('fires byte-based expiry from recorded traffic', async () => {
    const { k, expires } = setup();
    await k.addSa(spec(1000, { lifetimes: { soft: { seconds: 0, bytes: 1000 }, hard: { seconds: 0, bytes: 2000 } } }));
    k.recordTraffic({ dst: US, spi: 1000, protocol: 'esp' }, 999);
    assert.equal(expires.length, 0);
    k.recordTraffic({ dst: US, spi: 1000, protocol: 'esp' }, 1);
    k.recordTraffic({ dst: US, spi: 1000, protocol: 'esp' }, 500);
    k.recordTraffic({ dst: US, spi: 1000, protocol: 'esp' }, 500);
    assert.deepEqual(expires.map((e) => `${e.kind}/${e.by}`), ['soft/bytes', 'hard/bytes']);
    assert.equal(k.size, 0);
  });

  it('updateLifetimes shortens a live SA measured from its add time (rekey: hard 8 s)', async () => {
    const { k, clock, expires } = setup();
    await k.addSa(spec(1000, { lifetimes: { soft: { seconds: 900, bytes: 0 }, hard: { seconds: 1000, bytes: 0 } } }));
    clock.advance(5_000);
    await k.updateLifetimes({ dst: US, spi: 1000, protocol: 'esp' }, { hard: { seconds: 8, bytes: 0 } });
    clock.advance(2_999);
    assert.equal(k.size, 1);
    clock.advance(1);
    assert.deepEqual(expires.map((e) => e.kind), ['hard']);
  });

  it('larval SAs time out; deletions by others raise `deleted`; delSa by us does not', async () => {
    const { k, clock } = setup();
    const deleted: number[] = [];
    k.events.on('deleted', (e) => deleted.push(e.sa.spi));
    await k.getSpi({ src: PEER, dst: US, protocol: 'esp' });
    clock.advance(60_000);
    assert.equal(k.size, 0);
    await k.addSa(spec(1000));
    await k.addSa(spec(2000));
    await k.delSa({ dst: US, spi: 1000, protocol: 'esp' });
    k.deleteByOthers({ dst: US, spi: 2000, protocol: 'esp' });
    assert.deepEqual(deleted, [2000]);
  });

  it('copies and later wipes keys, and dump() never shows them', async () => {
    const { k, clock } = setup();
    const key = Buffer.alloc(16, 0x5a);
    await k.addSa(spec(1000, { encryption: { alg: 'aes-cbc', key } }));
    key.fill(0);
    clock.advance(30_000);
    const d = k.dump();
    assert.equal(d.length, 1);
    assert.deepEqual(d[0].encryption, { alg: 'aes-cbc', keyBits: 128 });
    assert.equal(d[0].softRemaining, 60);
    assert.equal(d[0].hardRemaining, 70);
    assert.ok(!JSON.stringify(d).includes('5a5a'));
  });

  it('countByDirection counts what dump() lists, larval SAs (no spec yet) aside', async () => {
    const { k } = setup();
    await k.addSa(spec(1000));
    await k.addSa(spec(2000));
    await k.addSa(spec(3000, { direction: 'outbound', src: US, dst: PEER }));
    await k.getSpi({ src: PEER, dst: US, protocol: 'esp' }); // larval
    assert.deepEqual(k.countByDirection(), { inbound: 2, outbound: 1 });
    const d = k.dump();
    assert.equal(d.filter((x) => x.direction === 'inbound').length, 2);
    assert.equal(d.length, 4);
    await k.delSa({ dst: US, spi: 1000, protocol: 'esp' });
    assert.deepEqual(k.countByDirection(), { inbound: 1, outbound: 1 });
  });

  it('emits acquire with increasing sequence numbers, flushes by protocol, keeps policies', async () => {
    const { k } = setup();
    const seqs: number[] = [];
    k.events.on('acquire', (a) => seqs.push(a.seq));
    k.acquire({ src: US, dst: PEER, combinations: [{ protocol: 'esp', encr: { alg: 'aes-cbc', minBits: 128, maxBits: 256 } }] });
    k.acquire({ src: US, dst: PEER, combinations: [] });
    assert.deepEqual(seqs, [1, 2]);
    await k.addSa(spec(1000));
    await k.addSa(spec(2000, { protocol: 'ah', encryption: undefined }));
    await k.flush('ah');
    assert.equal(k.size, 1);
    await k.flush();
    assert.equal(k.size, 0);
    const pol = { src: { address: '10.0.0.0', prefixLength: 8 }, dst: { address: '10.1.0.0', prefixLength: 16 }, direction: 'outbound' as const, action: 'ipsec' as const };
    await k.addPolicy(pol);
    await assert.rejects(k.addPolicy(pol), (e: unknown) => OakleyError.is(e, KernelErr.POLICY_EXISTS));
    await k.delPolicy(pol);
    await assert.rejects(k.delPolicy(pol), (e: unknown) => OakleyError.is(e, KernelErr.NO_SUCH_POLICY));
  });
});
