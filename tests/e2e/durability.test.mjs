// Durable before acknowledged: every acked message survives a SIGKILL right
// after its ack, exactly once and with contiguous seqs; sending continues
// after the last seq. Users, tokens and groups survive restarts too.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startParley, api, newUser, login, openWs, wsSend, httpSend, createGroup, privateConv, fullHistory,
  DEFAULT_TIMEOUT_MS,
} from '../support/parley_server.mjs';

let server;

before(async () => {
  server = await startParley();
});
after(async () => {
  await server?.dispose();
});

const range = (from, n) => Array.from({ length: n }, (_, i) => from + i);

// Sends `n` messages pipelined on `ws` to `to` and returns the acks by send order.
async function pipelined(ws, to, n, prefix) {
  for (let i = 0; i < n; i++) ws.send({ type: 'send', id: `${prefix}-${i}`, ...to, body: `${prefix} body ${i}` });
  const acks = [];
  for (let i = 0; i < n; i++) {
    const f = await ws.next((x) => (x.type === 'ack' || x.type === 'error') && x.id?.startsWith(`${prefix}-`), DEFAULT_TIMEOUT_MS * 2);
    assert.equal(f.type, 'ack', JSON.stringify(f));
    acks.push(f);
  }
  return acks;
}

function checkExactlyOnce(history, acks, n) {
  assert.equal(history.length, n, `expected ${n} messages, found ${history.length}`);
  assert.deepEqual(history.map((m) => m.seq), range(1, n), 'seqs 1..N, contiguous, each once');
  const byId = new Map(acks.map((x) => [x.id, x]));
  for (const m of history) {
    const ack = byId.get(m.id);
    assert.ok(ack, `unexpected message ${JSON.stringify(m)}`);
    assert.deepEqual([m.msg_id, m.seq, m.ts], [ack.msg_id, ack.seq, ack.ts], `message ${m.id} as acked`);
  }
  assert.equal(new Set(history.map((m) => m.msg_id)).size, n, 'no msg_id twice');
}

test('acked messages survive a SIGKILL right after the last ack', async () => {
  const N = 500;
  const a = await newUser(server.baseUrl, 'durA');
  const b = await newUser(server.baseUrl, 'durB');
  const conv = privateConv(a.user_id, b.user_id);
  const wa = await openWs(server, a.token);

  const acks = await pipelined(wa, { to_user: b.user_id }, N, 'd');
  await server.kill(); // no graceful shutdown: whatever was acked must be on disk
  await server.start();

  const history = await fullHistory(server.baseUrl, b.token, conv);
  checkExactlyOnce(history, acks, N);
  assert.deepEqual(history.map((m) => m.body), range(0, N).map((i) => `d body ${i}`));

  // The sequence continues after the last acked seq, and the hello agrees.
  const wa2 = await openWs(server, a.token);
  assert.equal(wa2.hello.convs.find((c) => c.conv === conv)?.last_seq, N, JSON.stringify(wa2.hello));
  const next = await wsSend(wa2, { to_user: b.user_id }, 'after the crash');
  assert.equal(next.seq, N + 1);
  assert.ok(BigInt(next.msg_id) > BigInt(acks.at(-1).msg_id), 'msg_ids keep increasing across the restart');
  await wa2.close();
});

test('several conversations, HTTP and WebSocket sends, and a crash', async () => {
  const a = await newUser(server.baseUrl, 'mA');
  const b = await newUser(server.baseUrl, 'mB');
  const c = await newUser(server.baseUrl, 'mC');
  const g = await createGroup(server.baseUrl, a.token, 'durable group', [b.user_id, c.user_id]);
  const wa = await openWs(server, a.token);
  const wb = await openWs(server, b.token);

  const per = 60;
  // Interleave three conversations over two connections and HTTP.
  for (let i = 0; i < per; i++) {
    wa.send({ type: 'send', id: `ab-${i}`, to_user: b.user_id, body: `ab ${i}` });
    wb.send({ type: 'send', id: `bg-${i}`, to_group: g.group_id, body: `bg ${i}` });
  }
  const httpAcks = await Promise.all(range(0, per).map((i) =>
    api(server.baseUrl, 'POST', '/api/v1/messages', { id: `ca-${i}`, to_user: a.user_id, body: `ca ${i}` }, c.token)));
  for (const r of httpAcks) assert.equal(r.status, 200, r.text);
  const abAcks = [];
  const bgAcks = [];
  for (let i = 0; i < per; i++) {
    abAcks.push(await wa.next({ type: 'ack', id: `ab-${i}` }, DEFAULT_TIMEOUT_MS * 2));
    bgAcks.push(await wb.next({ type: 'ack', id: `bg-${i}` }, DEFAULT_TIMEOUT_MS * 2));
  }
  await server.kill();
  await server.start();

  checkExactlyOnce(await fullHistory(server.baseUrl, a.token, privateConv(a.user_id, b.user_id)), abAcks, per);
  checkExactlyOnce(await fullHistory(server.baseUrl, c.token, `g:${g.group_id}`), bgAcks, per);
  checkExactlyOnce(await fullHistory(server.baseUrl, a.token, privateConv(a.user_id, c.user_id)),
    httpAcks.map((r) => r.json), per);
});

test('repeated crashes lose nothing and never reuse a seq', async () => {
  const a = await newUser(server.baseUrl, 'rcA');
  const b = await newUser(server.baseUrl, 'rcB');
  const conv = privateConv(a.user_id, b.user_id);
  const all = [];
  for (let round = 0; round < 3; round++) {
    const ws = await openWs(server, a.token);
    const acks = await pipelined(ws, { to_user: b.user_id }, 40, `r${round}`);
    assert.deepEqual(acks.map((x) => x.seq), range(round * 40 + 1, 40));
    all.push(...acks);
    await server.kill();
    await server.start();
  }
  checkExactlyOnce(await fullHistory(server.baseUrl, b.token, conv), all, 120);
});

test('users, tokens, groups and memberships survive a crash', async () => {
  const base = server.baseUrl;
  const a = await newUser(base, 'keepA');
  const b = await newUser(base, 'keepB');
  const g = await createGroup(base, a.token, 'kept group', [b.user_id]);
  const left = await api(base, 'DELETE', `/api/v1/groups/${g.group_id}/members/${a.user_id}`, undefined, a.token);
  assert.equal(left.status, 204, left.text);

  await server.kill();
  await server.start();
  const base2 = server.baseUrl;

  // The token still works (tokens survive a restart), and so does the password.
  const me = await api(base2, 'GET', '/api/v1/users/me', undefined, a.token);
  assert.equal(me.status, 200, me.text);
  assert.equal(me.json.username, a.username);
  const again = await login(base2, b.username, b.password);
  assert.equal(again.user_id, b.user_id);

  const got = await api(base2, 'GET', `/api/v1/groups/${g.group_id}`, undefined, b.token);
  assert.equal(got.status, 200, got.text);
  assert.deepEqual([got.json.name, got.json.owner, got.json.members], ['kept group', b.user_id, [b.user_id]]);
  assert.equal((await api(base2, 'GET', `/api/v1/groups/${g.group_id}`, undefined, a.token)).status, 403);

  // Usernames stay taken.
  const dup = await api(base2, 'POST', '/api/v1/users', { username: a.username.toUpperCase(), password: 'whatever1' });
  assert.equal(dup.status, 409, dup.text);
  // New ids do not collide with old ones.
  const c = await newUser(base2, 'keepC');
  assert.ok(![a.user_id, b.user_id].includes(c.user_id));
  const g2 = await createGroup(base2, c.token, 'new group', []);
  assert.notEqual(g2.group_id, g.group_id);
  await httpSend(base2, b.token, { to_group: g.group_id }, 'still here');
});
