// Rate limits (token buckets, lowered through a config file): sends per user
// over HTTP and WebSocket together, register/login per IP. Over the limit:
// HTTP 429 rate_limited with Retry-After; on the WebSocket an error frame
// rate_limited with retry_after_ms, and 4008 for a client that keeps going.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  startParley, api, assertError, newUser, register, login, openWs, wsSend, uniqueName, privateConv, fullHistory,
  sleep, withTimeout, DEFAULT_TIMEOUT_MS,
} from '../support/parley_server.mjs';

const SEND_BURST = 5;
const SEND_PER_SEC = 0.25; // slow refill: the burst must not refill while a slow (ASan) build sends it
const VIOLATIONS = 10;

function checkRetryAfter(res) {
  const header = res.headers.get('retry-after');
  assert.ok(header !== null, 'a 429 carries Retry-After');
  assert.match(header, /^\d+$/, `Retry-After is delay-seconds: ${header}`);
  assert.ok(Number(header) >= 1 && Number(header) <= 60, `Retry-After ${header}`);
  return Number(header);
}

describe('send rate limit', () => {
  let server;
  let base;
  before(async () => {
    server = await startParley({
      config: { rate: { send_per_sec: SEND_PER_SEC, send_burst: SEND_BURST, ws_violations_before_close: VIOLATIONS } },
    });
    base = server.baseUrl;
  });
  after(async () => {
    await server?.dispose();
  });

  test('HTTP: the burst passes, the next send is 429 with Retry-After, and later it passes again', async () => {
    const a = await newUser(base, 'hA');
    const b = await newUser(base, 'hB');
    for (let i = 0; i < SEND_BURST; i++) {
      const res = await api(base, 'POST', '/api/v1/messages', { id: `h-${i}`, to_user: b.user_id, body: `${i}` }, a.token);
      assert.equal(res.status, 200, `send ${i} within the burst: ${res.text}`);
    }
    const limited = await api(base, 'POST', '/api/v1/messages', { id: 'h-over', to_user: b.user_id, body: 'over' }, a.token);
    assertError(limited, 429, 'rate_limited', 'over the burst');
    const wait = checkRetryAfter(limited);

    // Another user has a bucket of their own.
    const res = await api(base, 'POST', '/api/v1/messages', { id: 'other', to_user: a.user_id, body: 'me too' }, b.token);
    assert.equal(res.status, 200, res.text);

    await sleep(wait * 1000 + 100);
    const again = await api(base, 'POST', '/api/v1/messages', { id: 'h-over', to_user: b.user_id, body: 'over' }, a.token);
    assert.equal(again.status, 200, `after Retry-After, with the same id: ${again.text}`);
    const history = await fullHistory(base, a.token, privateConv(a.user_id, b.user_id));
    assert.deepEqual(history.filter((m) => m.from === a.user_id).map((m) => m.id),
      [...Array.from({ length: SEND_BURST }, (_, i) => `h-${i}`), 'h-over']);
  });

  test('WebSocket: over the limit is an error frame with retry_after_ms; the connection stays', async () => {
    const a = await newUser(base, 'wA');
    const b = await newUser(base, 'wB');
    const ws = await openWs(server, a.token);
    for (let i = 0; i <= SEND_BURST; i++) ws.send({ type: 'send', id: `w-${i}`, to_user: b.user_id, body: `${i}` });
    const replies = [];
    for (let i = 0; i <= SEND_BURST; i++) replies.push(await ws.next((f) => f.id === `w-${i}`));
    assert.deepEqual(replies.slice(0, SEND_BURST).map((f) => f.type), Array(SEND_BURST).fill('ack'));
    const err = replies[SEND_BURST];
    assert.equal(err.type, 'error', JSON.stringify(err));
    assert.equal(err.code, 'rate_limited');
    assert.equal(err.id, `w-${SEND_BURST}`);
    assert.ok(Number.isInteger(err.retry_after_ms) && err.retry_after_ms > 0 && err.retry_after_ms <= 1000 / SEND_PER_SEC + 50,
      `retry_after_ms ${err.retry_after_ms}`);

    await ws.ping();
    await sleep(err.retry_after_ms + 50);
    const ack = await wsSend(ws, { to_user: b.user_id }, 'after waiting', `w-${SEND_BURST}`);
    assert.equal(ack.seq, SEND_BURST + 1, 'the rejected id was free to use');
    await ws.close();
  });

  test('HTTP and WebSocket share one bucket per user', async () => {
    const a = await newUser(base, 'sA');
    const b = await newUser(base, 'sB');
    for (let i = 0; i < SEND_BURST; i++) {
      const res = await api(base, 'POST', '/api/v1/messages', { id: `s-${i}`, to_user: b.user_id, body: 'x' }, a.token);
      assert.equal(res.status, 200, res.text);
    }
    const ws = await openWs(server, a.token);
    ws.send({ type: 'send', id: 'via-ws', to_user: b.user_id, body: 'x' });
    const err = await ws.next({ id: 'via-ws' });
    assert.equal(err.type, 'error', JSON.stringify(err));
    assert.equal(err.code, 'rate_limited');
    await ws.close();
  });

  test('a client that keeps sending far over its limit is closed with 4008', async () => {
    const a = await newUser(base, 'fA');
    const b = await newUser(base, 'fB');
    const ws = await openWs(server, a.token);
    const total = SEND_BURST + VIOLATIONS * 4;
    for (let i = 0; i < total; i++) ws.send({ type: 'send', id: `f-${i}`, to_user: b.user_id, body: 'spam' });
    const { code } = await withTimeout(ws.closed, DEFAULT_TIMEOUT_MS, 'the flooding client to be closed');
    assert.equal(code, 4008);
    const acks = ws.all.filter((f) => f.type === 'ack');
    const limited = ws.all.filter((f) => f.type === 'error' && f.code === 'rate_limited');
    assert.ok(acks.length >= SEND_BURST && acks.length <= SEND_BURST + 2, `${acks.length} acks`);
    // The close comes after VIOLATIONS errors in a row; sends already in
    // flight at that moment may still be answered before the close frame.
    assert.ok(limited.length >= VIOLATIONS && acks.length + limited.length <= total,
      `${limited.length} rate_limited errors before the close`);
    assert.ok(limited.every((f) => Number.isInteger(f.retry_after_ms) && f.retry_after_ms > 0), 'each carries retry_after_ms');
    // Exactly the acked messages exist.
    const history = await fullHistory(base, b.token, privateConv(a.user_id, b.user_id));
    assert.deepEqual(history.map((m) => m.id), acks.map((x) => x.id));
    // The user may connect again.
    const again = await openWs(server, a.token);
    await again.ping();
    await again.close();
  });
});

describe('auth rate limit', () => {
  let server;
  before(async () => {
    server = await startParley({ config: { rate: { auth_per_sec: 0.25, auth_burst: 3 } } });
  });
  after(async () => {
    await server?.dispose();
  });

  test('register and login share a per-IP bucket: 429 with Retry-After, even for good credentials', async () => {
    const base = server.baseUrl;
    const name = uniqueName('auth');
    await register(base, name, 'password1'); // 1
    await login(base, name, 'password1'); // 2
    const wrong = await api(base, 'POST', '/api/v1/sessions', { username: name, password: 'nope-nope' }); // 3
    assertError(wrong, 401, 'unauthenticated');

    const limited = await api(base, 'POST', '/api/v1/sessions', { username: name, password: 'password1' });
    assertError(limited, 429, 'rate_limited', 'fourth attempt');
    const wait = checkRetryAfter(limited);
    const reg = await api(base, 'POST', '/api/v1/users', { username: uniqueName('late'), password: 'password1' });
    assertError(reg, 429, 'rate_limited', 'registration while limited');

    // Other endpoints are not limited by it.
    const ses = await api(base, 'GET', '/healthz');
    assert.equal(ses.status, 200);

    await sleep(wait * 1000 + 100);
    const ok = await login(base, name, 'password1');
    assert.equal(typeof ok.token, 'string');
  });
});

// The defaults themselves (testDefaults: false), not the harness's.
describe('default limits', () => {
  let server;
  before(async () => {
    server = await startParley({ testDefaults: false });
  });
  after(async () => {
    await server?.dispose();
  });

  test('the default send limit is for people: a burst of 100, then rate_limited', async () => {
    const base = server.baseUrl;
    const a = await newUser(base, 'dA');
    const b = await newUser(base, 'dB');
    const ws = await openWs(server, a.token);
    const total = 200;
    for (let i = 0; i < total; i++) ws.send({ type: 'send', id: `d-${i}`, to_user: b.user_id, body: 'x' });
    const answers = [];
    for (let i = 0; i < total; i++) {
      answers.push(await ws.next((f) => (f.type === 'ack' || f.type === 'error') && f.id === `d-${i}`));
    }
    const acked = answers.filter((f) => f.type === 'ack').length;
    const limited = answers.filter((f) => f.type === 'error' && f.code === 'rate_limited').length;
    // 100 at once, and 20 more each second the sends took.
    assert.ok(acked >= 100, `${acked} acks: the burst passes`);
    assert.ok(limited > 0 && acked + limited === total, `${acked} acked, ${limited} rate_limited of ${total}`);
    await ws.close();
  });
});

// bench/bench.json is what load generators run with: a valid config (the
// server starts with it) that lifts the per-user and per-IP limits.
describe('bench/bench.json', () => {
  const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bench/bench.json');
  let server;
  before(async () => {
    server = await startParley({ config: JSON.parse(fs.readFileSync(file, 'utf8')), testDefaults: false });
  });
  after(async () => {
    await server?.dispose();
  });

  test('lifts the send and auth limits for thousands of users on one address', async () => {
    const base = server.baseUrl;
    // More logins from one address than the default auth burst (100).
    const names = Array.from({ length: 150 }, () => uniqueName('bj'));
    await Promise.all(names.map((n) => register(base, n, 'password1')));
    const [a, b] = await Promise.all(names.slice(0, 2).map((n) => login(base, n, 'password1')));
    const ws = await openWs(server, a.token);
    const total = 500; // far over the default send burst (100)
    for (let i = 0; i < total; i++) ws.send({ type: 'send', id: `b-${i}`, to_user: b.user_id, body: 'x' });
    for (let i = 0; i < total; i++) {
      const f = await ws.next((x) => (x.type === 'ack' || x.type === 'error') && x.id === `b-${i}`);
      assert.equal(f.type, 'ack', JSON.stringify(f));
    }
    await ws.close();
  });
});
