// History: GET /api/v1/conversations/{conv}/messages pages forwards with
// after_seq, backwards with before_seq, or returns the newest; always
// ascending by seq, with has_more in the direction of paging.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startParley, api, assertError, newUser, httpSend, privateConv, pick, openWs, MSG_FIELDS,
} from '../support/parley_server.mjs';

let server;
let base;
let a;
let b;
let conv;
let acks;

const range = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

before(async () => {
  server = await startParley();
  base = server.baseUrl;
  a = await newUser(base, 'hisA');
  b = await newUser(base, 'hisB');
  conv = privateConv(a.user_id, b.user_id);
  acks = [];
  for (let i = 1; i <= 10; i++) {
    const [from, to] = i % 3 === 0 ? [b, a] : [a, b];
    acks.push({ ...(await httpSend(base, from.token, { to_user: to.user_id }, `message ${i}`)), from: from.user_id, to: to.user_id });
  }
});
after(async () => {
  await server?.dispose();
});

async function page(query, token = a.token) {
  const res = await api(base, 'GET', `/api/v1/conversations/${conv}/messages${query}`, undefined, token);
  assert.equal(res.status, 200, `${query}: ${res.text}`);
  assert.equal(typeof res.json.has_more, 'boolean', res.text);
  return [res.json.messages.map((m) => m.seq), res.json.has_more];
}

test('each message in history is the full message', async () => {
  const res = await api(base, 'GET', `/api/v1/conversations/${conv}/messages?after_seq=0&limit=10`, undefined, b.token);
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json.messages.map((m) => pick(m, MSG_FIELDS)), acks.map((x, i) => ({
    msg_id: x.msg_id, conv, seq: i + 1, from: x.from, to_user: x.to, body: `message ${i + 1}`, ts: x.ts, id: x.id,
  })));
});

test('after_seq pages forwards', async () => {
  assert.deepEqual(await page('?after_seq=0&limit=4'), [[1, 2, 3, 4], true]);
  assert.deepEqual(await page('?after_seq=4&limit=4'), [[5, 6, 7, 8], true]);
  assert.deepEqual(await page('?after_seq=8&limit=4'), [[9, 10], false]);
  assert.deepEqual(await page('?after_seq=6&limit=4'), [[7, 8, 9, 10], false]);
  assert.deepEqual(await page('?after_seq=10&limit=4'), [[], false]);
  assert.deepEqual(await page('?after_seq=500'), [[], false]);
  assert.deepEqual(await page('?after_seq=0'), [range(1, 10), false], 'default limit is 50');
  assert.deepEqual(await page('?after_seq=0&limit=200'), [range(1, 10), false]);
  assert.deepEqual(await page('?after_seq=9&limit=1'), [[10], false]);
  assert.deepEqual(await page('?after_seq=8&limit=1'), [[9], true]);
});

test('before_seq pages backwards, still ascending', async () => {
  assert.deepEqual(await page('?before_seq=11&limit=3'), [[8, 9, 10], true]);
  assert.deepEqual(await page('?before_seq=8&limit=3'), [[5, 6, 7], true]);
  assert.deepEqual(await page('?before_seq=5&limit=3'), [[2, 3, 4], true]);
  assert.deepEqual(await page('?before_seq=4&limit=3'), [[1, 2, 3], false], 'nothing below 1');
  assert.deepEqual(await page('?before_seq=2&limit=3'), [[1], false]);
  assert.deepEqual(await page('?before_seq=1&limit=3'), [[], false]);
  assert.deepEqual(await page('?before_seq=1000&limit=2'), [[9, 10], true]);
  assert.deepEqual(await page('?before_seq=6'), [[1, 2, 3, 4, 5], false]);
});

test('with neither, the newest messages', async () => {
  assert.deepEqual(await page('?limit=3'), [[8, 9, 10], true]);
  assert.deepEqual(await page('?limit=10'), [range(1, 10), false]);
  assert.deepEqual(await page(''), [range(1, 10), false]);
  assert.deepEqual(await page('', b.token), [range(1, 10), false], 'the other participant sees the same');
});

test('walking backwards from the newest visits every message once', async () => {
  const seen = [];
  let [seqs, more] = await page('?limit=3');
  seen.unshift(...seqs);
  while (more) {
    [seqs, more] = await page(`?before_seq=${seen[0]}&limit=3`);
    seen.unshift(...seqs);
  }
  assert.deepEqual(seen, range(1, 10));
});

test('a limit outside 1-200 or not a number is 400 invalid_argument', async () => {
  for (const q of ['?limit=0', '?limit=201', '?limit=abc', '?limit=-1', '?limit=1.5',
    '?after_seq=0&limit=0', '?after_seq=0&limit=201', '?before_seq=5&limit=abc',
    '?after_seq=abc', '?after_seq=-1', '?before_seq=x']) {
    const res = await api(base, 'GET', `/api/v1/conversations/${conv}/messages${q}`, undefined, a.token);
    assertError(res, 400, 'invalid_argument', q);
  }
});

test('history needs a participant and a well-formed conversation id', async () => {
  const stranger = await newUser(base, 'hisS');
  assertError(await api(base, 'GET', `/api/v1/conversations/${conv}/messages`, undefined, stranger.token),
    403, 'permission_denied', 'stranger');
  assertError(await api(base, 'GET', `/api/v1/conversations/${conv}/messages`), 401, 'unauthenticated', 'no token');
  assertError(await api(base, 'GET', `/api/v1/conversations/${encodeURIComponent(conv)}/messages?limit=2`, undefined, stranger.token),
    403, 'permission_denied', 'percent-encoded conv id, stranger');
  const encoded = await api(base, 'GET', `/api/v1/conversations/${encodeURIComponent(conv)}/messages?limit=2`, undefined, a.token);
  assert.equal(encoded.status, 200, `percent-encoded conv id: ${encoded.text}`);
  assert.deepEqual(encoded.json.messages.map((m) => m.seq), [9, 10]);
  // A conversation the caller takes part in but that has no messages yet.
  const c = await newUser(base, 'hisC');
  const empty = await api(base, 'GET', `/api/v1/conversations/${privateConv(a.user_id, c.user_id)}/messages`, undefined, a.token);
  assert.equal(empty.status, 200, empty.text);
  assert.deepEqual([empty.json.messages, empty.json.has_more], [[], false]);
});

test('sync and history are rate-limited per user: 429 with Retry-After, or rate_limited with retry_after_ms', async () => {
  const limited = await startParley({ config: { rate: { sync_per_sec: 0.2, sync_burst: 3 } } });
  try {
    const lbase = limited.baseUrl;
    const x = await newUser(lbase, 'slX');
    const y = await newUser(lbase, 'slY');
    const c = privateConv(x.user_id, y.user_id);
    await httpSend(lbase, x.token, { to_user: y.user_id }, 'hi');
    const statuses = [];
    let refused;
    for (let i = 0; i < 8; i++) {
      const res = await api(lbase, 'GET', `/api/v1/conversations/${c}/messages`, undefined, x.token);
      statuses.push(res.status);
      if (res.status === 429) refused = res;
    }
    assert.ok(refused, `no 429 in ${statuses}`);
    assertError(refused, 429, 'rate_limited');
    assert.ok(Number(refused.headers.get('retry-after')) >= 1, 'Retry-After in whole seconds');
    // The WebSocket shares the bucket; another user does not.
    const wx = await openWs(limited, x.token);
    wx.send({ type: 'sync', conv: c, after_seq: 0 });
    const err = await wx.next((f) => f.type === 'error' || f.type === 'sync');
    assert.equal(err.code, 'rate_limited', JSON.stringify(err));
    assert.ok(err.retry_after_ms > 0, JSON.stringify(err));
    await wx.ping();
    const wy = await openWs(limited, y.token);
    wy.send({ type: 'sync', conv: c, after_seq: 0 });
    assert.equal((await wy.next((f) => f.type === 'error' || f.type === 'sync')).type, 'sync');
    await Promise.all([wx.close(), wy.close()]);
  } finally {
    await limited.dispose();
  }
});

test('a sync bigger than the outbound queue arrives in pages cut by bytes, and the socket stays open', async () => {
  // 1 MiB of outbound queue (what a deployment may choose); 60 bodies of
  // 4096 control characters, each escaped to 6 bytes: ~1.5 MB in one page
  // of 200 before pages were cut by bytes, which closed the socket (4008).
  const small = await startParley({
    config: { conn: { outbound_queue_max_bytes: 1048576 }, rate: { send_per_sec: 100000, send_burst: 100000 } },
  });
  try {
    const sbase = small.baseUrl;
    const x = await newUser(sbase, 'pgX');
    const y = await newUser(sbase, 'pgY');
    const c = privateConv(x.user_id, y.user_id);
    const body = '\u0001'.repeat(4096);
    for (let i = 1; i <= 60; i++) await httpSend(sbase, x.token, { to_user: y.user_id }, body);
    const wy = await openWs(small, y.token);
    const seqs = [];
    let pages = 0;
    for (let after = 0; ; pages++) {
      assert.ok(pages < 60, 'paging progresses');
      wy.send({ type: 'sync', conv: c, after_seq: after, limit: 200 });
      const page = await wy.next((f) => f.type === 'sync' || f.type === 'error');
      assert.equal(page.type, 'sync', JSON.stringify(page).slice(0, 300));
      assert.ok(page.messages.length >= 1, 'every page holds at least one message');
      assert.ok(JSON.stringify(page).length <= 300 * 1024, 'a page stays near limits.sync_reply_max_bytes');
      for (const m of page.messages) {
        assert.equal(m.body, body);
        seqs.push(m.seq);
      }
      if (!page.has_more) break;
      after = seqs[seqs.length - 1];
    }
    assert.ok(pages >= 4, `cut into pages by bytes (${pages + 1} pages)`);
    assert.deepEqual(seqs, Array.from({ length: 60 }, (_, i) => i + 1));
    await wy.ping();
    assert.equal(wy.closeInfo, null, 'the socket is still open');
    // HTTP history is cut the same way; the newest page holds the newest.
    const res = await api(sbase, 'GET', `/api/v1/conversations/${c}/messages?limit=200`, undefined, y.token);
    assert.equal(res.status, 200);
    assert.ok(res.text.length <= 300 * 1024, `${res.text.length} bytes`);
    assert.equal(res.json.has_more, true);
    assert.equal(res.json.messages[res.json.messages.length - 1].seq, 60);
    await wy.close();
  } finally {
    await small.dispose();
  }
});
