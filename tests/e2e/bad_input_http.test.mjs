// Bad input on the HTTP API: every malformed, mistyped, missing, out-of-range
// or oversized input gets the documented status and the JSON error body, and
// changes nothing.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startParley, api, assertError, newUser, httpSend, privateConv, fullHistory,
} from '../support/parley_server.mjs';

let server;
let base;
let a;
let b;

before(async () => {
  server = await startParley();
  base = server.baseUrl;
  a = await newUser(base, 'badA');
  b = await newUser(base, 'badB');
});
after(async () => {
  await server?.dispose();
});

const post = (path, body, token, headers) => api(base, 'POST', path, body, token, headers);

test('malformed JSON is 400 invalid_argument on every endpoint', async () => {
  const cases = ['{', '{"username": }', '{"username":"x",}', "{'username':'x'}", 'nul', '{"a":1}}', '\u0000', ' '];
  for (const path of ['/api/v1/users', '/api/v1/sessions']) {
    for (const text of cases) assertError(await post(path, text), 400, 'invalid_argument', `${path} ${JSON.stringify(text)}`);
  }
  for (const path of ['/api/v1/messages', '/api/v1/groups']) {
    for (const text of cases) assertError(await post(path, text, a.token), 400, 'invalid_argument', `${path} ${JSON.stringify(text)}`);
  }
});

test('a JSON value that is not an object is 400', async () => {
  for (const text of ['[]', '[{"username":"abc","password":"12345678"}]', '"text"', '42', 'null', 'true']) {
    assertError(await post('/api/v1/users', text), 400, 'invalid_argument', text);
    assertError(await post('/api/v1/messages', text, a.token), 400, 'invalid_argument', text);
  }
});

test('missing and wrong-typed fields are 400', async () => {
  const users = [
    {}, { username: 'someone' }, { password: '12345678' },
    { username: 123456, password: '12345678' }, { username: 'someone', password: 12345678 },
    { username: ['someone'], password: '12345678' }, { username: null, password: '12345678' },
  ];
  for (const body of users) {
    assertError(await post('/api/v1/users', body), 400, 'invalid_argument', `register ${JSON.stringify(body)}`);
    assertError(await post('/api/v1/sessions', body), 400, 'invalid_argument', `login ${JSON.stringify(body)}`);
  }
  const sends = [
    { to_user: b.user_id, body: 'no id' },
    { id: 'x1', body: 'no recipient' },
    { id: 'x2', to_user: b.user_id },
    { id: 'x3', to_user: b.user_id, body: 42 },
    { id: 'x4', to_user: b.user_id, body: null },
    { id: 'x5', to_user: b.user_id, body: { text: 'hi' } },
    { id: 5, to_user: b.user_id, body: 'numeric id' },
    { id: 'x6', to_user: b.user_id, to_group: 1, body: 'both recipients' },
    { id: 'x7', to_user: true, body: 'boolean recipient' },
    { id: 'x8', to_user: null, body: 'null recipient' },
  ];
  for (const body of sends) {
    assertError(await post('/api/v1/messages', body, a.token), 400, 'invalid_argument', `send ${JSON.stringify(body)}`);
  }
  assertError(await post('/api/v1/groups', { name: 7, members: [] }, a.token), 400, 'invalid_argument', 'numeric group name');
  const g = await post('/api/v1/groups', { name: 'mine', members: [] }, a.token);
  assert.equal(g.status, 201, g.text);
  const members = `/api/v1/groups/${g.json.group_id}/members`;
  assertError(await post(members, { user_id: 'x' }, a.token), 400, 'invalid_argument', 'string user_id');
  assertError(await post(members, { user_id: b.user_id + 0.5 }, a.token), 400, 'invalid_argument', 'float user_id');
  assertError(await post(members, {}, a.token), 400, 'invalid_argument', 'no user_id');
});

test('ids must be positive integers below 2^53: not strings, negatives, floats or bigger', async () => {
  const bad = ['"2"', `"${b.user_id}"`, '-1', '0', '1.5', `${b.user_id}.5`, '9007199254740992', '9007199254740993',
    '18446744073709551616', '1e20', '1e400', '-0.0'];
  for (const raw of bad) {
    const text = `{"id":"n-${bad.indexOf(raw)}","to_user":${raw},"body":"hi"}`;
    assertError(await post('/api/v1/messages', text, a.token), 400, 'invalid_argument', text);
    const group = `{"id":"g-${bad.indexOf(raw)}","to_group":${raw},"body":"hi"}`;
    assertError(await post('/api/v1/messages', group, a.token), 400, 'invalid_argument', group);
    const create = `{"name":"g","members":[${raw}]}`;
    assertError(await post('/api/v1/groups', create, a.token), 400, 'invalid_argument', create);
  }
  // Nothing was created by any of them.
  const list = await api(base, 'GET', '/api/v1/conversations', undefined, a.token);
  assert.deepEqual(list.json.conversations.filter((c) => c.last_seq !== 0), []);
  // The largest valid id is accepted as an id (and is simply unknown).
  assertError(await post('/api/v1/messages', '{"id":"max","to_user":9007199254740991,"body":"hi"}', a.token),
    404, 'not_found', '2^53-1');
  const ok = await post('/api/v1/messages', `{"id":"plain","to_user":${b.user_id},"body":"hi"}`, a.token);
  assert.equal(ok.status, 200, ok.text);
});

test('client message ids must be 1-64 bytes of [A-Za-z0-9_-]', async () => {
  for (const id of ['', ' ', 'has space', 'dot.ted', 'slash/', 'ümlaut', 'x'.repeat(65), 'semi;colon', 'new\nline']) {
    assertError(await post('/api/v1/messages', { id, to_user: b.user_id, body: 'hi' }, a.token), 400, 'invalid_argument',
      `id ${JSON.stringify(id)}`);
  }
  for (const id of ['a', 'A-z_0-9', 'y'.repeat(64)]) {
    const res = await post('/api/v1/messages', { id, to_user: b.user_id, body: 'fine' }, a.token);
    assert.equal(res.status, 200, `id ${id}: ${res.text}`);
  }
});

test('a body must be 1-4096 bytes of valid UTF-8', async () => {
  const c = await newUser(base, 'bodyC');
  const conv = privateConv(a.user_id, c.user_id);
  assertError(await post('/api/v1/messages', { id: 'empty', to_user: c.user_id, body: '' }, a.token), 400, 'invalid_argument', 'empty');
  assertError(await post('/api/v1/messages', { id: 'b4097', to_user: c.user_id, body: 'x'.repeat(4097) }, a.token),
    400, 'invalid_argument', '4097 bytes');
  assertError(await post('/api/v1/messages', { id: 'e4098', to_user: c.user_id, body: 'é'.repeat(2049) }, a.token),
    400, 'invalid_argument', '2049 two-byte characters = 4098 bytes');
  assertError(await post('/api/v1/messages', { id: 'e4097', to_user: c.user_id, body: `${'é'.repeat(2048)}x` }, a.token),
    400, 'invalid_argument', '4097 bytes, mostly two-byte characters');
  // A lone surrogate escape decodes to no valid UTF-8.
  assertError(await post('/api/v1/messages', '{"id":"sur","to_user":' + c.user_id + ',"body":"\\ud800"}', a.token),
    400, 'invalid_argument', 'lone surrogate');
  // Raw bytes that are not UTF-8 inside the JSON string.
  const raw = Buffer.concat([Buffer.from(`{"id":"raw","to_user":${c.user_id},"body":"ab`), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
  assertError(await post('/api/v1/messages', raw, a.token), 400, 'invalid_argument', 'invalid UTF-8 bytes');
  const overlong = Buffer.concat([Buffer.from(`{"id":"ovl","to_user":${c.user_id},"body":"`), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]);
  assertError(await post('/api/v1/messages', overlong, a.token), 400, 'invalid_argument', 'overlong encoding');
  assert.deepEqual(await fullHistory(base, a.token, conv), [], 'nothing stored');

  await httpSend(base, a.token, { to_user: c.user_id }, 'x'.repeat(4096), 'b4096');
  await httpSend(base, a.token, { to_user: c.user_id }, '€'.repeat(1365) + 'x', 'e4096'); // 4095 + 1 bytes
  const history = await fullHistory(base, a.token, conv);
  assert.deepEqual(history.map((m) => Buffer.byteLength(m.body)), [4096, 4096]);
});

test('a body that is not application/json is 415', async () => {
  const body = JSON.stringify({ username: 'media_x', password: '12345678' });
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonx']) {
    assertError(await post('/api/v1/users', body, undefined, { 'Content-Type': type }), 415, 'unsupported_media_type', type);
  }
  assertError(await post('/api/v1/messages', JSON.stringify({ id: 'm', to_user: b.user_id, body: 'x' }), a.token,
    { 'Content-Type': 'text/plain' }), 415, 'unsupported_media_type', 'send as text/plain');
  // The user was not created by any of them, and parameters on the type are fine.
  const res = await post('/api/v1/users', body, undefined, { 'Content-Type': 'application/json; charset=utf-8' });
  assert.equal(res.status, 201, res.text);
});

test('a request body over 64 KiB is 413 payload_too_large', async () => {
  const pad = 'p'.repeat(64 * 1024);
  const big = JSON.stringify({ username: 'big_one', password: '12345678', pad });
  assertError(await post('/api/v1/users', big), 413, 'payload_too_large', `${big.length} bytes`);
  const bigSend = JSON.stringify({ id: 'big', to_user: b.user_id, body: 'x'.repeat(70 * 1024) });
  assertError(await post('/api/v1/messages', bigSend, a.token), 413, 'payload_too_large', 'big send');
  // The server is fine afterwards and nothing was created.
  const login = await post('/api/v1/sessions', { username: 'big_one', password: '12345678' });
  assertError(login, 401, 'unauthenticated', 'the oversized registration did not happen');
});

test('an unknown route is 404 not_found with the JSON error body', async () => {
  for (const [method, path] of [['GET', '/api/v1/nope'], ['POST', '/api/v1/nope'],
    ['GET', '/api/v2/users/me'], ['DELETE', '/api/v1/users/me/extra']]) {
    const res = await api(base, method, path, method === 'POST' ? {} : undefined, a.token);
    assertError(res, 404, 'not_found', `${method} ${path}`);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  }
});

test('unknown recipients, users and groups are 404 not_found', async () => {
  assertError(await post('/api/v1/messages', { id: 'nf1', to_user: 8_000_000_000, body: 'hi' }, a.token), 404, 'not_found', 'user');
  assertError(await post('/api/v1/messages', { id: 'nf2', to_group: 8_000_000_000, body: 'hi' }, a.token), 404, 'not_found', 'group');
  assertError(await api(base, 'GET', '/api/v1/users?username=no_such_user_here', undefined, a.token), 404, 'not_found', 'lookup');
});

test('unknown fields are ignored, so that the protocol can grow', async () => {
  const res = await post('/api/v1/users', { username: 'future_client', password: '12345678', avatar: 'cat.png', v: 2 });
  assert.equal(res.status, 201, res.text);
  const send = await post('/api/v1/messages', { id: 'future', to_user: b.user_id, body: 'hi', priority: 'high' }, a.token);
  assert.equal(send.status, 200, send.text);
});

test('history seqs must be 0 to 2^53-1: bigger ones are 400, not wrapped to another page', async () => {
  const conv = privateConv(a.user_id, b.user_id);
  await httpSend(base, a.token, { to_user: b.user_id }, 'seq range');
  const path = `/api/v1/conversations/${conv}/messages`;
  for (const q of ['?after_seq=9007199254740992', '?after_seq=18446744073709551615', '?after_seq=18446744073709551616',
    '?before_seq=9007199254740992', '?before_seq=18446744073709551615', '?before_seq=0',
    '?after_seq=0&limit=9007199254740993']) {
    assertError(await api(base, 'GET', `${path}${q}`, undefined, a.token), 400, 'invalid_argument', q);
  }
  // The largest valid values still work: nothing after, the newest before.
  const after = await api(base, 'GET', `${path}?after_seq=9007199254740991`, undefined, a.token);
  assert.equal(after.status, 200, after.text);
  assert.deepEqual(after.json.messages, []);
  assert.equal(after.json.has_more, false);
  const newest = await api(base, 'GET', `${path}?before_seq=9007199254740991`, undefined, a.token);
  assert.equal(newest.status, 200, newest.text);
  assert.ok(newest.json.messages.length >= 1, newest.text);
});
