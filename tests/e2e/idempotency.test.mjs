// Idempotent sends: the pair (sender, id) identifies a message. A resend gets
// the first ack unchanged (msg_id, seq, ts), whatever its body, over either
// transport and after a restart; recipients see the message once.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startParley, api, newUser, openWs, wsSend, httpSend, clientId, privateConv, fullHistory, pick,
} from '../support/parley_server.mjs';

let server;

before(async () => {
  server = await startParley();
});
after(async () => {
  await server?.dispose();
});

const ACK_FIELDS = ['id', 'msg_id', 'conv', 'seq', 'ts'];

test('a WebSocket resend with the same id returns the first ack, even with another body', async () => {
  const base = server.baseUrl;
  const a = await newUser(base, 'idA');
  const b = await newUser(base, 'idB');
  const wa = await openWs(server, a.token);
  const wb = await openWs(server, b.token);
  const id = clientId('dup');

  const first = await wsSend(wa, { to_user: b.user_id }, 'original', id);
  const again = await wsSend(wa, { to_user: b.user_id }, 'original', id);
  const changed = await wsSend(wa, { to_user: b.user_id }, 'a different body', id);
  assert.deepEqual(pick(again, ACK_FIELDS), pick(first, ACK_FIELDS));
  assert.deepEqual(pick(changed, ACK_FIELDS), pick(first, ACK_FIELDS));

  // The recipient saw one message; the next new message follows directly.
  const next = await wsSend(wa, { to_user: b.user_id }, 'next one');
  assert.equal(next.seq, first.seq + 1);
  const pushes = [await wb.next({ type: 'msg' }), await wb.next({ type: 'msg' })];
  assert.deepEqual(pushes.map((m) => [m.seq, m.id, m.body]), [[1, id, 'original'], [2, next.id, 'next one']]);
  await wb.ping();
  assert.deepEqual(wb.take({ type: 'msg' }), [], 'no duplicate push');

  const history = await fullHistory(base, b.token, privateConv(a.user_id, b.user_id));
  assert.deepEqual(history.map((m) => [m.seq, m.body]), [[1, 'original'], [2, 'next one']]);
  await Promise.all([wa.close(), wb.close()]);
});

test('the same id is one message across HTTP and WebSocket, and across connections', async () => {
  const base = server.baseUrl;
  const a = await newUser(base, 'xA');
  const b = await newUser(base, 'xB');
  const id = clientId('x');
  const viaHttp = await httpSend(base, a.token, { to_user: b.user_id }, 'first', id);
  const viaHttpAgain = await httpSend(base, a.token, { to_user: b.user_id }, 'second', id);
  assert.deepEqual(pick(viaHttpAgain, ACK_FIELDS), pick(viaHttp, ACK_FIELDS));

  const w1 = await openWs(server, a.token);
  const w2 = await openWs(server, a.token);
  assert.deepEqual(pick(await wsSend(w1, { to_user: b.user_id }, 'third', id), ACK_FIELDS), pick(viaHttp, ACK_FIELDS));
  assert.deepEqual(pick(await wsSend(w2, { to_user: b.user_id }, 'fourth', id), ACK_FIELDS), pick(viaHttp, ACK_FIELDS));

  const history = await fullHistory(base, a.token, privateConv(a.user_id, b.user_id));
  assert.equal(history.length, 1);
  assert.equal(history[0].body, 'first');
  await Promise.all([w1.close(), w2.close()]);
});

test('ids are per sender: two senders may use the same id', async () => {
  const base = server.baseUrl;
  const a = await newUser(base, 'psA');
  const b = await newUser(base, 'psB');
  const id = 'same-id-for-both';
  const fromA = await httpSend(base, a.token, { to_user: b.user_id }, 'from a', id);
  const fromB = await httpSend(base, b.token, { to_user: a.user_id }, 'from b', id);
  assert.notEqual(fromB.msg_id, fromA.msg_id);
  assert.deepEqual([fromA.seq, fromB.seq], [1, 2]);
  const history = await fullHistory(base, a.token, privateConv(a.user_id, b.user_id));
  assert.deepEqual(history.map((m) => [m.from, m.id, m.body]), [[a.user_id, id, 'from a'], [b.user_id, id, 'from b']]);
});

test('a resend to another recipient with a known id still returns the first ack', async () => {
  const base = server.baseUrl;
  const a = await newUser(base, 'rA');
  const b = await newUser(base, 'rB');
  const c = await newUser(base, 'rC');
  const id = clientId('moved');
  const first = await httpSend(base, a.token, { to_user: b.user_id }, 'for b', id);
  const second = await httpSend(base, a.token, { to_user: c.user_id }, 'for c', id);
  assert.deepEqual(pick(second, ACK_FIELDS), pick(first, ACK_FIELDS));
  assert.deepEqual(await fullHistory(base, c.token, privateConv(a.user_id, c.user_id)), []);
});

test('a resend after a graceful restart and after a crash returns the first ack', async () => {
  const a = await newUser(server.baseUrl, 'rsA');
  const b = await newUser(server.baseUrl, 'rsB');
  const conv = privateConv(a.user_id, b.user_id);
  const wa = await openWs(server, a.token);
  const id1 = clientId('before-restart');
  const first = await wsSend(wa, { to_user: b.user_id }, 'before restart', id1);

  await server.restart(); // SIGTERM, then start on the same data dir
  let base = server.baseUrl;
  const viaHttp = await api(base, 'POST', '/api/v1/messages', { id: id1, to_user: b.user_id, body: 'retry' }, a.token);
  assert.equal(viaHttp.status, 200, viaHttp.text);
  assert.deepEqual(pick(viaHttp.json, ACK_FIELDS), pick(first, ACK_FIELDS));
  const wa2 = await openWs(server, a.token);
  assert.deepEqual(pick(await wsSend(wa2, { to_user: b.user_id }, 'retry again', id1), ACK_FIELDS), pick(first, ACK_FIELDS));

  const id2 = clientId('before-crash');
  const second = await wsSend(wa2, { to_user: b.user_id }, 'before crash', id2);
  assert.equal(second.seq, 2);
  await server.kill(); // SIGKILL right after the ack
  await server.start();
  base = server.baseUrl;
  const wa3 = await openWs(server, a.token);
  assert.deepEqual(pick(await wsSend(wa3, { to_user: b.user_id }, 'after crash', id2), ACK_FIELDS), pick(second, ACK_FIELDS));
  assert.deepEqual(pick(await wsSend(wa3, { to_user: b.user_id }, 'after crash', id1), ACK_FIELDS), pick(first, ACK_FIELDS));

  const fresh = await wsSend(wa3, { to_user: b.user_id }, 'new');
  assert.equal(fresh.seq, 3);
  const history = await fullHistory(base, b.token, conv);
  assert.deepEqual(history.map((m) => [m.seq, m.id, m.body]),
    [[1, id1, 'before restart'], [2, id2, 'before crash'], [3, fresh.id, 'new']]);
  await wa3.close();
});

test('a send that was rejected does not reserve its id', async () => {
  const base = server.baseUrl;
  const a = await newUser(base, 'rejA');
  const b = await newUser(base, 'rejB');
  const id = clientId('rej');
  const bad = await api(base, 'POST', '/api/v1/messages', { id, to_user: b.user_id, body: '' }, a.token);
  assert.equal(bad.status, 400, bad.text);
  const ok = await httpSend(base, a.token, { to_user: b.user_id }, 'now valid', id);
  assert.equal(ok.seq, 1);
  const history = await fullHistory(base, a.token, privateConv(a.user_id, b.user_id));
  assert.deepEqual(history.map((m) => m.body), ['now valid']);
});
