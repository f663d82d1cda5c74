// Ordering: messages one connection sends to one conversation get seqs in
// the order they were sent, even when sent back to back without waiting for
// acks; acks and pushes come in seq order; seqs are contiguous.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startParley, newUser, openWs, createGroup, privateConv, fullHistory, DEFAULT_TIMEOUT_MS,
} from '../support/parley_server.mjs';

const N = 200;
let server;
let base;

before(async () => {
  server = await startParley();
  base = server.baseUrl;
});
after(async () => {
  await server?.dispose();
});

const range = (from, n) => Array.from({ length: n }, (_, i) => from + i);

async function collect(ws, type, n, pred = () => true) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(await ws.next((f) => f.type === type && pred(f), DEFAULT_TIMEOUT_MS * 2));
  return out;
}

test(`${N} pipelined sends to one user: acks and pushes in seq order, contiguous`, async () => {
  const a = await newUser(base, 'ordA');
  const b = await newUser(base, 'ordB');
  const conv = privateConv(a.user_id, b.user_id);
  const sender = await openWs(server, a.token);
  const senderOther = await openWs(server, a.token);
  const receiver = await openWs(server, b.token);

  const ids = range(0, N).map((i) => `ord-${i}`);
  for (let i = 0; i < N; i++) sender.send({ type: 'send', id: ids[i], to_user: b.user_id, body: `message ${i}` });

  // The acks, in the order they arrive, are for the sends in the order made.
  const acks = await collect(sender, 'ack', N);
  assert.deepEqual(sender.take({ type: 'error' }), []);
  assert.deepEqual(acks.map((x) => x.id), ids);
  assert.deepEqual(acks.map((x) => x.seq), range(1, N));
  assert.ok(acks.every((x) => x.conv === conv));
  for (let i = 1; i < N; i++) {
    assert.ok(BigInt(acks[i].msg_id) > BigInt(acks[i - 1].msg_id), `msg_id order at ${i}`);
    assert.ok(acks[i].ts >= acks[i - 1].ts, `ts order at ${i}`);
  }

  for (const ws of [receiver, senderOther]) {
    const pushes = await collect(ws, 'msg', N);
    assert.deepEqual(pushes.map((m) => m.seq), range(1, N));
    assert.deepEqual(pushes.map((m) => m.body), range(0, N).map((i) => `message ${i}`));
    assert.deepEqual(pushes.map((m) => m.msg_id), acks.map((x) => x.msg_id));
  }

  const history = await fullHistory(base, b.token, conv);
  assert.deepEqual(history.map((m) => m.seq), range(1, N));
  assert.deepEqual(history.map((m) => m.id), ids);
  await Promise.all([sender, senderOther, receiver].map((w) => w.close()));
});

test('pipelined sends to a group arrive in order at every member', async () => {
  const a = await newUser(base, 'goA');
  const b = await newUser(base, 'goB');
  const c = await newUser(base, 'goC');
  const g = await createGroup(base, a.token, 'ordered', [b.user_id, c.user_id]);
  const wa = await openWs(server, a.token);
  const wb = await openWs(server, b.token);
  const wc = await openWs(server, c.token);

  const n = 100;
  for (let i = 0; i < n; i++) wa.send({ type: 'send', id: `g-${i}`, to_group: g.group_id, body: `g${i}` });
  const acks = await collect(wa, 'ack', n);
  assert.deepEqual(acks.map((x) => [x.id, x.seq]), range(0, n).map((i) => [`g-${i}`, i + 1]));
  for (const ws of [wb, wc]) {
    const pushes = await collect(ws, 'msg', n);
    assert.deepEqual(pushes.map((m) => [m.seq, m.body]), range(0, n).map((i) => [i + 1, `g${i}`]));
  }
  await Promise.all([wa, wb, wc].map((w) => w.close()));
});

test('two senders interleaving in one conversation: one contiguous sequence, each in its own order', async () => {
  const a = await newUser(base, 'ilA');
  const b = await newUser(base, 'ilB');
  const conv = privateConv(a.user_id, b.user_id);
  const wa = await openWs(server, a.token);
  const wb = await openWs(server, b.token);
  const n = 100;
  for (let i = 0; i < n; i++) {
    wa.send({ type: 'send', id: `a-${i}`, to_user: b.user_id, body: `a${i}` });
    wb.send({ type: 'send', id: `b-${i}`, to_user: a.user_id, body: `b${i}` });
  }
  const acksA = await collect(wa, 'ack', n);
  const acksB = await collect(wb, 'ack', n);
  for (const acks of [acksA, acksB]) {
    for (let i = 1; i < n; i++) assert.ok(acks[i].seq > acks[i - 1].seq, `own sends keep their order at ${i}`);
  }
  const allSeqs = [...acksA, ...acksB].map((x) => x.seq).sort((x, y) => x - y);
  assert.deepEqual(allSeqs, range(1, 2 * n), 'one gapless sequence');

  // Each side's pushes (the other's messages) come in seq order.
  const toA = await collect(wa, 'msg', n);
  const toB = await collect(wb, 'msg', n);
  assert.deepEqual(toA.map((m) => m.seq), acksB.map((x) => x.seq));
  assert.deepEqual(toB.map((m) => m.seq), acksA.map((x) => x.seq));

  const history = await fullHistory(base, a.token, conv);
  assert.deepEqual(history.map((m) => m.seq), range(1, 2 * n));
  const bySeq = new Map([...acksA, ...acksB].map((x) => [x.seq, x.id]));
  assert.deepEqual(history.map((m) => m.id), history.map((m) => bySeq.get(m.seq)));
  await Promise.all([wa.close(), wb.close()]);
});

test('sends to several conversations keep each conversation in order', async () => {
  const a = await newUser(base, 'mcA');
  const peers = [await newUser(base, 'mc1'), await newUser(base, 'mc2'), await newUser(base, 'mc3')];
  const wa = await openWs(server, a.token);
  const per = 50;
  for (let i = 0; i < per; i++) {
    for (const [k, p] of peers.entries()) wa.send({ type: 'send', id: `m${k}-${i}`, to_user: p.user_id, body: `${k}:${i}` });
  }
  const acks = await collect(wa, 'ack', per * peers.length);
  for (const [k, p] of peers.entries()) {
    const mine = acks.filter((x) => x.id.startsWith(`m${k}-`));
    assert.deepEqual(mine.map((x) => x.id), range(0, per).map((i) => `m${k}-${i}`));
    assert.deepEqual(mine.map((x) => x.seq), range(1, per));
    assert.ok(mine.every((x) => x.conv === privateConv(a.user_id, p.user_id)));
  }
  await wa.close();
});
