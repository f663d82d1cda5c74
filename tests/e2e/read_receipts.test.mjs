// Read receipts: {"type":"read","conv","seq"} moves the user's read cursor up
// (never down), persists it, tells the other participants and the user's
// other connections, and drives `unread` in GET /conversations.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startParley, api, newUser, openWs, httpSend, createGroup, privateConv, pick, sleep, eventually, TIMEOUT_SCALE,
} from '../support/parley_server.mjs';

let server;

before(async () => {
  server = await startParley();
});
after(async () => {
  await server?.dispose();
});

async function convEntry(token, conv) {
  const res = await api(server.baseUrl, 'GET', '/api/v1/conversations', undefined, token);
  assert.equal(res.status, 200, res.text);
  for (const c of res.json.conversations) {
    assert.equal(c.unread, c.last_seq - c.read_seq, `unread = last_seq - read_seq in ${JSON.stringify(c)}`);
  }
  const entry = res.json.conversations.find((c) => c.conv === conv);
  assert.ok(entry, `${conv} not in ${res.text}`);
  return pick(entry, ['conv', 'last_seq', 'read_seq', 'unread']);
}

// A read frame has no reply, so the cursor moves some time after it was
// sent: wait until the list shows `readSeq`, then return the entry.
async function readCursorReaches(token, conv, readSeq) {
  return eventually(async () => {
    const entry = await convEntry(token, conv);
    return entry.read_seq === readSeq ? entry : null;
  }, { what: `read_seq of ${conv} to reach ${readSeq}` });
}

// Samples the cursor for a while; it must stay at `readSeq` throughout.
async function readCursorStays(token, conv, readSeq, ms = 500 * TIMEOUT_SCALE) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const entry = await convEntry(token, conv);
    assert.equal(entry.read_seq, readSeq, `the cursor moved: ${JSON.stringify(entry)}`);
    await sleep(25);
  }
}

test('reading moves the cursor, tells the peer and the reader\'s other connections, and sets unread', async () => {
  const base = server.baseUrl;
  const a = await newUser(base, 'rrA');
  const b = await newUser(base, 'rrB');
  const conv = privateConv(a.user_id, b.user_id);
  for (let i = 1; i <= 5; i++) await httpSend(base, a.token, { to_user: b.user_id }, `m${i}`);
  assert.deepEqual(await convEntry(b.token, conv), { conv, last_seq: 5, read_seq: 0, unread: 5 });

  const wa = await openWs(server, a.token);
  const wb1 = await openWs(server, b.token);
  const wb2 = await openWs(server, b.token);

  wb1.send({ type: 'read', conv, seq: 3 });
  const expected = { type: 'read', conv, user_id: b.user_id, seq: 3 };
  assert.deepEqual(pick(await wa.next({ type: 'read' }), Object.keys(expected)), expected, 'the sender learns B read up to 3');
  assert.deepEqual(pick(await wb2.next({ type: 'read' }), Object.keys(expected)), expected, "B's other connection learns it too");

  // No reply to the reader itself on success.
  await wb1.ping();
  assert.deepEqual(wb1.take((f) => f.type === 'error'), []);

  assert.deepEqual(await readCursorReaches(b.token, conv, 3), { conv, last_seq: 5, read_seq: 3, unread: 2 });
  await Promise.all([wa, wb1, wb2].map((w) => w.close()));
});

test('the read cursor never moves down and never past the last seq', async () => {
  const base = server.baseUrl;
  const a = await newUser(base, 'dnA');
  const b = await newUser(base, 'dnB');
  const conv = privateConv(a.user_id, b.user_id);
  for (let i = 1; i <= 6; i++) await httpSend(base, a.token, { to_user: b.user_id }, `m${i}`);
  const wb = await openWs(server, b.token);

  wb.send({ type: 'read', conv, seq: 4 });
  assert.deepEqual(await readCursorReaches(b.token, conv, 4), { conv, last_seq: 6, read_seq: 4, unread: 2 });
  wb.send({ type: 'read', conv, seq: 2 });
  wb.send({ type: 'read', conv, seq: 0 });
  wb.send({ type: 'read', conv, seq: 4 });
  await wb.ping();
  await readCursorStays(b.token, conv, 4);

  wb.send({ type: 'read', conv, seq: 6 });
  assert.deepEqual(await readCursorReaches(b.token, conv, 6), { conv, last_seq: 6, read_seq: 6, unread: 0 });

  // A seq beyond the end cannot make unread negative.
  wb.send({ type: 'read', conv, seq: 1000 });
  await wb.ping();
  await sleep(300 * TIMEOUT_SCALE);
  const entry = await convEntry(b.token, conv);
  assert.ok(entry.unread >= 0, JSON.stringify(entry));
  assert.ok(entry.read_seq <= entry.last_seq, JSON.stringify(entry));
  await wb.close();
});

test('the read cursor is persisted and shown in hello after a restart', async () => {
  const a = await newUser(server.baseUrl, 'psA');
  const b = await newUser(server.baseUrl, 'psB');
  const conv = privateConv(a.user_id, b.user_id);
  for (let i = 1; i <= 4; i++) await httpSend(server.baseUrl, a.token, { to_user: b.user_id }, `m${i}`);
  const wb = await openWs(server, b.token);
  wb.send({ type: 'read', conv, seq: 3 });
  await readCursorReaches(b.token, conv, 3);
  await wb.close();

  await server.restart();
  assert.deepEqual(await convEntry(b.token, conv), { conv, last_seq: 4, read_seq: 3, unread: 1 });
  const again = await openWs(server, b.token);
  assert.deepEqual(pick(again.hello.convs.find((c) => c.conv === conv), ['conv', 'last_seq', 'read_seq']),
    { conv, last_seq: 4, read_seq: 3 });

  // Also after a crash right after the cursor moved.
  again.send({ type: 'read', conv, seq: 4 });
  await readCursorReaches(b.token, conv, 4);
  await sleep(1000); // the read frame has no ack; give the write a moment
  await server.kill();
  await server.start();
  assert.deepEqual(await convEntry(b.token, conv), { conv, last_seq: 4, read_seq: 4, unread: 0 });
});

test('in a group every other member and the reader\'s other connections get the receipt', async () => {
  const base = server.baseUrl;
  const a = await newUser(base, 'grA');
  const b = await newUser(base, 'grB');
  const c = await newUser(base, 'grC');
  const outsider = await newUser(base, 'grO');
  const g = await createGroup(base, a.token, 'readers', [b.user_id, c.user_id]);
  const conv = `g:${g.group_id}`;
  await httpSend(base, a.token, { to_group: g.group_id }, 'one');
  await httpSend(base, a.token, { to_group: g.group_id }, 'two');

  const wa = await openWs(server, a.token);
  const wb = await openWs(server, b.token);
  const wc1 = await openWs(server, c.token);
  const wc2 = await openWs(server, c.token);
  const wo = await openWs(server, outsider.token);

  wc1.send({ type: 'read', conv, seq: 2 });
  const expected = { type: 'read', conv, user_id: c.user_id, seq: 2 };
  for (const ws of [wa, wb, wc2]) assert.deepEqual(pick(await ws.next({ type: 'read' }), Object.keys(expected)), expected);
  await wo.ping();
  assert.deepEqual(wo.take({ type: 'read' }), [], 'outsiders learn nothing');

  assert.deepEqual(await readCursorReaches(c.token, conv, 2), { conv, last_seq: 2, read_seq: 2, unread: 0 });
  assert.deepEqual(await convEntry(b.token, conv), { conv, last_seq: 2, read_seq: 0, unread: 2 }, "one member's cursor is not another's");

  // An outsider cannot move a cursor in the group.
  wo.send({ type: 'read', conv, seq: 1 });
  const err = await wo.next({ type: 'error' });
  assert.equal(err.code, 'permission_denied', JSON.stringify(err));
  await Promise.all([wa, wb, wc1, wc2, wo].map((w) => w.close()));
});

test('bad read frames get an error frame', async () => {
  const base = server.baseUrl;
  const a = await newUser(base, 'brA');
  const b = await newUser(base, 'brB');
  const conv = privateConv(a.user_id, b.user_id);
  await httpSend(base, a.token, { to_user: b.user_id }, 'x');
  const ws = await openWs(server, b.token);
  for (const frame of [{ type: 'read', conv }, { type: 'read', conv, seq: 'one' }, { type: 'read', seq: 1 },
    { type: 'read', conv: 'bogus', seq: 1 }, { type: 'read', conv, seq: -1 }]) {
    ws.send(frame);
    const err = await ws.next({ type: 'error' });
    assert.equal(err.code, 'invalid_argument', `${JSON.stringify(frame)} -> ${JSON.stringify(err)}`);
  }
  await ws.ping();
  await readCursorStays(b.token, conv, 0);
  assert.deepEqual(await convEntry(b.token, conv), { conv, last_seq: 1, read_seq: 0, unread: 1 });
  await ws.close();
});

test('a read that does not move the cursor is pushed to no one', async () => {
  const base = server.baseUrl;
  const a = await newUser(base, 'nmA');
  const b = await newUser(base, 'nmB');
  const conv = privateConv(a.user_id, b.user_id);
  for (let i = 1; i <= 3; i++) await httpSend(base, a.token, { to_user: b.user_id }, `m${i}`);
  const wa = await openWs(server, a.token);
  const wb1 = await openWs(server, b.token);
  const wb2 = await openWs(server, b.token);
  wb1.send({ type: 'read', conv, seq: 2 });
  assert.equal((await wa.next({ type: 'read' })).seq, 2);
  assert.equal((await wb2.next({ type: 'read' })).seq, 2);

  // At or below the cursor: answered (no error), but nobody hears of it.
  for (const seq of [2, 1, 0, 2, 2, 1]) wb1.send({ type: 'read', conv, seq });
  await wb1.ping();
  await sleep(300 * TIMEOUT_SCALE);
  await Promise.all([wa.ping(), wb2.ping()]);
  assert.deepEqual(wa.take({ type: 'read' }), [], 'the peer hears nothing more');
  assert.deepEqual(wb2.take({ type: 'read' }), [], "the reader's other connection hears nothing more");
  assert.deepEqual(wb1.take({ type: 'error' }), []);
  await readCursorStays(b.token, conv, 2, 200 * TIMEOUT_SCALE);

  // Moving it again is pushed once.
  wb1.send({ type: 'read', conv, seq: 3 });
  assert.equal((await wa.next({ type: 'read' })).seq, 3);
  await sleep(200 * TIMEOUT_SCALE);
  await wa.ping();
  assert.deepEqual(wa.take({ type: 'read' }), []);
  await Promise.all([wa, wb1, wb2].map((w) => w.close()));
});

test('read frames are rate-limited per user with rate_limited and retry_after_ms; the socket stays open', async () => {
  const limited = await startParley({ config: { rate: { read_per_sec: 1, read_burst: 3 } } });
  try {
    const base = limited.baseUrl;
    const a = await newUser(base, 'rlA');
    const b = await newUser(base, 'rlB');
    const conv = privateConv(a.user_id, b.user_id);
    for (let i = 1; i <= 12; i++) await httpSend(base, a.token, { to_user: b.user_id }, `m${i}`);
    const wb = await openWs(limited, b.token);
    for (let seq = 1; seq <= 12; seq++) wb.send({ type: 'read', conv, seq });
    const err = await wb.next({ type: 'error' });
    assert.equal(err.code, 'rate_limited', JSON.stringify(err));
    assert.ok(err.retry_after_ms > 0, JSON.stringify(err));
    await wb.ping();
    // Another user is not limited by b's reads.
    const wa = await openWs(limited, a.token);
    wa.send({ type: 'read', conv, seq: 12 });
    await wa.ping();
    await sleep(200 * TIMEOUT_SCALE);
    assert.deepEqual(wa.take({ type: 'error' }), []);
    await Promise.all([wa.close(), wb.close()]);
  } finally {
    await limited.dispose();
  }
});
