// Offline delivery: a user who was away learns from the hello frame how far
// each conversation got, and `sync` returns what they missed, in order,
// exactly once, in pages.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startParley, api, newUser, openWs, wsSend, httpSend, createGroup, privateConv, pick, CONV_FIELDS,
} from '../support/parley_server.mjs';

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

async function sync(ws, conv, afterSeq, limit) {
  const frame = { type: 'sync', conv, after_seq: afterSeq };
  if (limit !== undefined) frame.limit = limit;
  ws.send(frame);
  const reply = await ws.next((f) => (f.type === 'sync' && f.conv === conv) || f.type === 'error');
  assert.equal(reply.type, 'sync', `sync answered with ${JSON.stringify(reply)}`);
  return reply;
}

// What a client that keeps its highest seq does: pull until has_more is false.
async function syncAll(ws, conv, afterSeq, limit) {
  const got = [];
  for (;;) {
    const page = await sync(ws, conv, afterSeq, limit);
    got.push(...page.messages);
    if (!page.has_more) return got;
    assert.ok(page.messages.length > 0, 'has_more with an empty page');
    afterSeq = page.messages.at(-1).seq;
  }
}

test('a user who was offline sees last_seq in hello and syncs everything in order', async () => {
  const a = await newUser(base, 'offA');
  const b = await newUser(base, 'offB');
  const conv = privateConv(a.user_id, b.user_id);
  const wa = await openWs(server, a.token);
  const n = 25;
  const acks = [];
  for (let i = 0; i < n; i++) acks.push(await wsSend(wa, { to_user: b.user_id }, `while you were out ${i}`));

  const wb = await openWs(server, b.token);
  assert.deepEqual(wb.hello.convs.map((c) => pick(c, CONV_FIELDS)),
    [{ conv, last_seq: n, read_seq: 0, peer: a.user_id }]);

  const page = await sync(wb, conv, 0, 200);
  assert.equal(page.has_more, false);
  assert.deepEqual(page.messages.map((m) => m.seq), range(1, n));
  assert.deepEqual(page.messages.map((m) => pick(m, ['msg_id', 'from', 'to_user', 'body', 'ts', 'id'])),
    acks.map((x, i) => ({ msg_id: x.msg_id, from: a.user_id, to_user: b.user_id, body: `while you were out ${i}`, ts: x.ts, id: x.id })));
  await Promise.all([wa.close(), wb.close()]);
});

test('a client that connects right after an ack sees that message in hello and in the list', async () => {
  // The hello is how a reconnecting client learns what it missed: a message
  // acked before the connection opened must be counted in it, or the client
  // would never sync it.
  const a = await newUser(base, 'nowA');
  const b = await newUser(base, 'nowB');
  const conv = privateConv(a.user_id, b.user_id);
  const wa = await openWs(server, a.token);
  for (let round = 1; round <= 3; round++) {
    const ack = await wsSend(wa, { to_user: b.user_id }, `round ${round}`);
    const wb = await openWs(server, b.token);
    assert.deepEqual(wb.hello.convs.map((c) => pick(c, ['conv', 'last_seq'])), [{ conv, last_seq: ack.seq }],
      `hello right after ack ${round}`);
    await wb.close();
    const h = await httpSend(base, b.token, { to_user: a.user_id }, `reply ${round}`);
    const list = await api(base, 'GET', '/api/v1/conversations', undefined, a.token);
    assert.deepEqual(list.json.conversations.map((c) => pick(c, ['conv', 'last_seq'])), [{ conv, last_seq: h.seq }],
      `conversation list right after the HTTP 200 of send ${h.seq}`);
    wa.take({ type: 'msg' });
  }
  await wa.close();
});

test('sync pages by limit with has_more, and after_seq skips what the client has', async () => {
  const a = await newUser(base, 'pgA');
  const b = await newUser(base, 'pgB');
  const conv = privateConv(a.user_id, b.user_id);
  for (let i = 1; i <= 10; i++) await httpSend(base, a.token, { to_user: b.user_id }, `m${i}`);
  const wb = await openWs(server, b.token);

  let p = await sync(wb, conv, 0, 4);
  assert.deepEqual([p.messages.map((m) => m.seq), p.has_more], [[1, 2, 3, 4], true]);
  p = await sync(wb, conv, 4, 4);
  assert.deepEqual([p.messages.map((m) => m.seq), p.has_more], [[5, 6, 7, 8], true]);
  p = await sync(wb, conv, 8, 4);
  assert.deepEqual([p.messages.map((m) => m.seq), p.has_more], [[9, 10], false]);
  p = await sync(wb, conv, 6, 4);
  assert.deepEqual([p.messages.map((m) => m.seq), p.has_more], [[7, 8, 9, 10], false], 'exactly the rest: no more');
  p = await sync(wb, conv, 10, 4);
  assert.deepEqual([p.messages, p.has_more], [[], false], 'nothing after the last seq');
  p = await sync(wb, conv, 1000, 4);
  assert.deepEqual([p.messages, p.has_more], [[], false]);
  p = await sync(wb, conv, 0); // default limit (50)
  assert.deepEqual([p.messages.map((m) => m.seq), p.has_more], [range(1, 10), false]);

  assert.deepEqual((await syncAll(wb, conv, 3, 3)).map((m) => m.body), range(4, 7).map((i) => `m${i}`));
  await wb.close();
});

test('a reconnecting client fills the gap of what arrived while it was away', async () => {
  const a = await newUser(base, 'gapA');
  const b = await newUser(base, 'gapB');
  const conv = privateConv(a.user_id, b.user_id);
  const wa = await openWs(server, a.token);
  let wb = await openWs(server, b.token);

  // Online: pushes arrive; the client remembers the highest seq.
  let highest = 0;
  for (let i = 0; i < 3; i++) {
    const ack = await wsSend(wa, { to_user: b.user_id }, `live ${i}`);
    highest = (await wb.next({ type: 'msg', id: ack.id })).seq;
  }
  assert.equal(highest, 3);
  await wb.terminate();

  for (let i = 0; i < 7; i++) await wsSend(wa, { to_user: b.user_id }, `missed ${i}`);

  wb = await openWs(server, b.token);
  const entry = wb.hello.convs.find((c) => c.conv === conv);
  assert.equal(entry?.last_seq, 10, JSON.stringify(wb.hello));
  const missed = await syncAll(wb, conv, highest, 3);
  assert.deepEqual(missed.map((m) => [m.seq, m.body]), range(0, 7).map((i) => [4 + i, `missed ${i}`]));

  // And it is live again.
  const ack = await wsSend(wa, { to_user: b.user_id }, 'welcome back');
  assert.equal((await wb.next({ type: 'msg', id: ack.id })).seq, 11);
  await Promise.all([wa.close(), wb.close()]);
});

test('an offline group member syncs the group conversation', async () => {
  const a = await newUser(base, 'ogA');
  const b = await newUser(base, 'ogB');
  const c = await newUser(base, 'ogC');
  const g = await createGroup(base, a.token, 'offline group', [b.user_id, c.user_id]);
  const conv = `g:${g.group_id}`;
  await httpSend(base, a.token, { to_group: g.group_id }, 'one');
  await httpSend(base, c.token, { to_group: g.group_id }, 'two');
  await httpSend(base, a.token, { to_group: g.group_id }, 'three');

  const wb = await openWs(server, b.token);
  assert.deepEqual(wb.hello.convs.map((x) => pick(x, CONV_FIELDS)),
    [{ conv, last_seq: 3, read_seq: 0, group_id: g.group_id }]);
  const got = await syncAll(wb, conv, 0, 2);
  assert.deepEqual(got.map((m) => [m.seq, m.from, m.to_group, m.body]),
    [[1, a.user_id, g.group_id, 'one'], [2, c.user_id, g.group_id, 'two'], [3, a.user_id, g.group_id, 'three']]);
  await wb.close();
});

test('hello lists every conversation with its last seq', async () => {
  const me = await newUser(base, 'many');
  const peers = [];
  for (let i = 0; i < 5; i++) peers.push(await newUser(base, `peer${i}`));
  for (const [i, p] of peers.entries()) {
    for (let k = 0; k <= i; k++) await httpSend(base, p.token, { to_user: me.user_id }, `${i}/${k}`);
  }
  const g = await createGroup(base, peers[0].token, 'with me', [me.user_id]);

  const ws = await openWs(server, me.token);
  const byConv = new Map(ws.hello.convs.map((c) => [c.conv, pick(c, CONV_FIELDS)]));
  assert.equal(byConv.size, 6, JSON.stringify(ws.hello.convs));
  for (const [i, p] of peers.entries()) {
    assert.deepEqual(byConv.get(privateConv(me.user_id, p.user_id)),
      { conv: privateConv(me.user_id, p.user_id), last_seq: i + 1, read_seq: 0, peer: p.user_id });
  }
  // A group one was added to is listed even before its first message.
  assert.deepEqual(byConv.get(`g:${g.group_id}`), { conv: `g:${g.group_id}`, last_seq: 0, read_seq: 0, group_id: g.group_id });
  const list = await api(base, 'GET', '/api/v1/conversations', undefined, me.token);
  assert.equal(list.json.conversations.length, 6);
  await ws.close();
});

test('sync rejects bad arguments with an error frame and keeps the connection', async () => {
  const a = await newUser(base, 'sbA');
  const b = await newUser(base, 'sbB');
  const conv = privateConv(a.user_id, b.user_id);
  await httpSend(base, a.token, { to_user: b.user_id }, 'x');
  const ws = await openWs(server, a.token);
  const bad = [
    { type: 'sync', conv, after_seq: 0, limit: 0 },
    { type: 'sync', conv, after_seq: 0, limit: 201 },
    { type: 'sync', conv, after_seq: 0, limit: 'ten' },
    { type: 'sync', conv, after_seq: 'zero', limit: 10 },
    { type: 'sync', conv, after_seq: -1, limit: 10 },
    { type: 'sync', after_seq: 0, limit: 10 },
    { type: 'sync', conv: 'nonsense', after_seq: 0, limit: 10 },
    { type: 'sync', conv: `p:${b.user_id}:${a.user_id}x`, after_seq: 0, limit: 10 },
  ];
  for (const frame of bad) {
    ws.send(frame);
    const err = await ws.next((f) => f.type === 'error' || f.type === 'sync');
    assert.equal(err.type, 'error', `${JSON.stringify(frame)} -> ${JSON.stringify(err)}`);
    assert.equal(err.code, 'invalid_argument', `${JSON.stringify(frame)} -> ${JSON.stringify(err)}`);
  }
  await ws.ping();
  const ok = await sync(ws, conv, 0, 200);
  assert.equal(ok.messages.length, 1);
  await ws.close();
});
