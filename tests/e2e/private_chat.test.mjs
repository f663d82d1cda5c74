// One-to-one chat: the ack, the pushed msg frame, both directions, sends over
// HTTP, chatting with oneself (p:a:a), and who may read a conversation.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startParley, api, assertError, newUser, openWs, wsSend, httpSend, clientId, privateConv,
  snowflakeMs, fullHistory, pick, MSG_FIELDS, CONV_FIELDS,
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

// An ack as docs/wire-protocol.md defines it, for a message just sent.
function checkAck(ack, { id, conv, seq }) {
  assert.equal(ack.type, 'ack');
  assert.equal(ack.id, id);
  assert.equal(ack.conv, conv);
  assert.equal(ack.seq, seq);
  assert.equal(typeof ack.msg_id, 'string', `msg_id must be a decimal string: ${JSON.stringify(ack)}`);
  assert.match(ack.msg_id, /^[1-9][0-9]*$/);
  assert.ok(Number.isSafeInteger(ack.ts), `ts ${ack.ts}`);
  assert.ok(Math.abs(ack.ts - Date.now()) < 60_000, `ts ${ack.ts} is not the current time`);
  // The snowflake carries the time of acceptance (it may borrow a few ms).
  assert.ok(Math.abs(snowflakeMs(ack.msg_id) - ack.ts) < 1000,
    `snowflake time ${snowflakeMs(ack.msg_id)} far from ts ${ack.ts}`);
}

test('a message from A to B: ack to A, msg frame to B, then the reply back', async () => {
  const a = await newUser(base, 'alice');
  const b = await newUser(base, 'bob');
  const conv = privateConv(a.user_id, b.user_id);
  const wa = await openWs(server, a.token);
  const wb = await openWs(server, b.token);

  const id1 = clientId('ab');
  wa.send({ type: 'send', id: id1, to_user: b.user_id, body: 'Hello, Bob!' });
  const ack1 = await wa.next((f) => f.id === id1);
  checkAck(ack1, { id: id1, conv, seq: 1 });

  const msg1 = await wb.next({ type: 'msg' });
  assert.deepEqual(pick(msg1, ['type', ...MSG_FIELDS]), {
    type: 'msg', msg_id: ack1.msg_id, conv, seq: 1, from: a.user_id, to_user: b.user_id,
    body: 'Hello, Bob!', ts: ack1.ts, id: id1,
  });

  const id2 = clientId('ba');
  const ack2 = await wsSend(wb, { to_user: a.user_id }, 'Hi Alice', id2);
  assert.equal(ack2.id, id2);
  assert.equal(ack2.conv, conv, 'both directions share one conversation');
  assert.equal(ack2.seq, 2);
  assert.ok(BigInt(ack2.msg_id) > BigInt(ack1.msg_id), 'msg_ids increase');
  const msg2 = await wa.next({ type: 'msg' });
  assert.deepEqual(pick(msg2, ['seq', 'from', 'to_user', 'body', 'msg_id']),
    { seq: 2, from: b.user_id, to_user: a.user_id, body: 'Hi Alice', msg_id: ack2.msg_id });

  await Promise.all([wa.close(), wb.close()]);
});

test('a send over HTTP is acked like a WebSocket send and pushed to the recipient', async () => {
  const a = await newUser(base, 'httpA');
  const b = await newUser(base, 'httpB');
  const conv = privateConv(a.user_id, b.user_id);
  const wb = await openWs(server, b.token);

  const id = clientId('http');
  const res = await api(base, 'POST', '/api/v1/messages', { id, to_user: b.user_id, body: 'over http' }, a.token);
  assert.equal(res.status, 200, res.text);
  checkAck({ type: 'ack', ...res.json }, { id, conv, seq: 1 });

  const msg = await wb.next({ type: 'msg', id });
  assert.deepEqual(pick(msg, MSG_FIELDS), {
    msg_id: res.json.msg_id, conv, seq: 1, from: a.user_id, to_user: b.user_id,
    body: 'over http', ts: res.json.ts, id,
  });
  await wb.close();
});

test('bodies round-trip byte for byte, up to 4096 bytes of UTF-8', async () => {
  const a = await newUser(base, 'utfA');
  const b = await newUser(base, 'utfB');
  const wb = await openWs(server, b.token);
  const wa = await openWs(server, a.token);
  const bodies = [
    'plain',
    'Grüße, 你好, こんにちは, 🎉👩‍👩‍👧',
    'quotes " and \\ backslash and \n newline and \t tab and \u0001 control',
    '<script>alert(1)</script>',
    'é'.repeat(2048), // 4096 bytes
    'x'.repeat(4096),
    '😀'.repeat(1024), // 4096 bytes of 4-byte sequences
  ];
  for (const body of bodies) {
    const ack = await wsSend(wa, { to_user: b.user_id }, body);
    const msg = await wb.next({ type: 'msg', id: ack.id });
    assert.equal(msg.body, body);
  }
  const history = await fullHistory(base, a.token, privateConv(a.user_id, b.user_id));
  assert.deepEqual(history.map((m) => m.body), bodies);
  await Promise.all([wa.close(), wb.close()]);
});

test('a user may message themself in p:a:a', async () => {
  const a = await newUser(base, 'self');
  const conv = `p:${a.user_id}:${a.user_id}`;
  const w1 = await openWs(server, a.token);
  const w2 = await openWs(server, a.token);

  const ack = await wsSend(w1, { to_user: a.user_id }, 'note to self');
  checkAck(ack, { id: ack.id, conv, seq: 1 });
  const msg = await w2.next({ type: 'msg', id: ack.id });
  assert.deepEqual(pick(msg, MSG_FIELDS), {
    msg_id: ack.msg_id, conv, seq: 1, from: a.user_id, to_user: a.user_id, body: 'note to self', ts: ack.ts, id: ack.id,
  });

  const h = await httpSend(base, a.token, { to_user: a.user_id }, 'second note');
  assert.equal(h.conv, conv);
  assert.equal(h.seq, 2);

  const history = await fullHistory(base, a.token, conv);
  assert.deepEqual(history.map((m) => [m.seq, m.body]), [[1, 'note to self'], [2, 'second note']]);

  const list = await api(base, 'GET', '/api/v1/conversations', undefined, a.token);
  assert.equal(list.status, 200, list.text);
  assert.deepEqual(list.json.conversations.map((c) => pick(c, ['conv', 'last_seq', 'peer'])),
    [{ conv, last_seq: 2, peer: a.user_id }]);
  await Promise.all([w1.close(), w2.close()]);
});

test('the conversation list names the peer and puts the most recent activity first', async () => {
  const a = await newUser(base, 'lister');
  const b = await newUser(base, 'lb');
  const c = await newUser(base, 'lc');
  await httpSend(base, a.token, { to_user: b.user_id }, 'to b');
  await httpSend(base, c.token, { to_user: a.user_id }, 'from c');
  await httpSend(base, c.token, { to_user: a.user_id }, 'from c again');

  let list = await api(base, 'GET', '/api/v1/conversations', undefined, a.token);
  assert.equal(list.status, 200, list.text);
  assert.deepEqual(list.json.conversations.map((x) => pick(x, CONV_FIELDS)).map(({ read_seq, ...rest }) => rest), [
    { conv: privateConv(a.user_id, c.user_id), last_seq: 2, peer: c.user_id },
    { conv: privateConv(a.user_id, b.user_id), last_seq: 1, peer: b.user_id },
  ]);

  await httpSend(base, b.token, { to_user: a.user_id }, 'b is back');
  list = await api(base, 'GET', '/api/v1/conversations', undefined, a.token);
  assert.deepEqual(list.json.conversations.map((x) => x.conv),
    [privateConv(a.user_id, b.user_id), privateConv(a.user_id, c.user_id)]);

  const bList = await api(base, 'GET', '/api/v1/conversations', undefined, b.token);
  assert.deepEqual(bList.json.conversations.map((x) => pick(x, ['conv', 'last_seq', 'peer'])),
    [{ conv: privateConv(a.user_id, b.user_id), last_seq: 2, peer: a.user_id }]);
});

test('only the two participants may read a private conversation', async () => {
  const a = await newUser(base, 'pa');
  const b = await newUser(base, 'pb');
  const eve = await newUser(base, 'eve');
  const conv = privateConv(a.user_id, b.user_id);
  await httpSend(base, a.token, { to_user: b.user_id }, 'secret');

  for (const who of [a, b]) {
    const h = await api(base, 'GET', `/api/v1/conversations/${conv}/messages`, undefined, who.token);
    assert.equal(h.status, 200, h.text);
    assert.deepEqual(h.json.messages.map((m) => m.body), ['secret']);
  }
  assertError(await api(base, 'GET', `/api/v1/conversations/${conv}/messages`, undefined, eve.token),
    403, 'permission_denied', 'history of a stranger');

  const we = await openWs(server, eve.token);
  we.send({ type: 'sync', conv, after_seq: 0, limit: 10 });
  const err = await we.next({ type: 'error' });
  assert.equal(err.code, 'permission_denied', JSON.stringify(err));
  assert.equal(typeof err.message, 'string');
  await we.ping();
  assert.deepEqual(we.take({ type: 'sync' }), [], 'no messages leaked');
  await we.close();
});

test('sending to an unknown user is 404 not_found and creates nothing', async () => {
  const a = await newUser(base, 'lonely');
  const ghost = 9_000_000_000_000; // valid id, no such user
  assertError(await api(base, 'POST', '/api/v1/messages', { id: 'g1', to_user: ghost, body: 'anyone?' }, a.token),
    404, 'not_found', 'HTTP send to a ghost');
  const wa = await openWs(server, a.token);
  wa.send({ type: 'send', id: 'g2', to_user: ghost, body: 'anyone?' });
  const err = await wa.next({ type: 'error' });
  assert.deepEqual(pick(err, ['type', 'id', 'code']), { type: 'error', id: 'g2', code: 'not_found' });
  const list = await api(base, 'GET', '/api/v1/conversations', undefined, a.token);
  assert.deepEqual(list.json.conversations, []);
  await wa.close();
});
