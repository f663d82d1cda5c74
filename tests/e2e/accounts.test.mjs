// Accounts and sessions: registration, login, the current user, lookup by
// username, the online flag, and authentication of the WebSocket upgrade.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startParley, api, assertError, register, login, newUser, uniqueName, openWs, WsClient,
  eventually, privateConv, httpSend, pick, CONV_FIELDS,
} from '../support/parley_server.mjs';

const DAY_MS = 24 * 3600 * 1000;
let server;
let base;

before(async () => {
  server = await startParley();
  base = server.baseUrl;
});
after(async () => {
  await server?.dispose();
});

test('register answers 201 with the new id and the username as registered', async () => {
  const username = uniqueName('Reg.Ist-er');
  const res = await api(base, 'POST', '/api/v1/users', { username, password: 'password1' });
  assert.equal(res.status, 201, res.text);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(res.json.username, username);
  assert.ok(Number.isSafeInteger(res.json.user_id) && res.json.user_id > 0, `user_id ${res.json.user_id}`);

  const other = await register(base, uniqueName('second'));
  assert.notEqual(other.user_id, res.json.user_id, 'each account gets its own id');
});

test('usernames are unique compared case-insensitively', async () => {
  const username = uniqueName('CaseTest');
  await register(base, username);
  for (const variant of [username, username.toLowerCase(), username.toUpperCase()]) {
    const res = await api(base, 'POST', '/api/v1/users', { username: variant, password: 'password1' });
    assertError(res, 409, 'already_exists', variant);
  }
});

test('username and password limits are enforced', async () => {
  const bad = [
    { username: 'ab', password: 'password1' }, // too short
    { username: 'a'.repeat(33), password: 'password1' }, // too long
    { username: 'has space', password: 'password1' },
    { username: 'sl/ash', password: 'password1' },
    { username: 'ümlaut', password: 'password1' },
    { username: uniqueName('pw'), password: '1234567' }, // 7 bytes
    { username: uniqueName('pw'), password: 'x'.repeat(129) },
  ];
  for (const body of bad) {
    const res = await api(base, 'POST', '/api/v1/users', body);
    assertError(res, 400, 'invalid_argument', JSON.stringify(body).slice(0, 80));
  }
  // The bounds themselves are accepted.
  const okNames = ['a.b', `x${uniqueName('y')}`.padEnd(32, 'z').slice(0, 32)];
  for (const username of okNames) {
    const res = await api(base, 'POST', '/api/v1/users', { username, password: '12345678' });
    assert.equal(res.status, 201, `${username}: ${res.text}`);
  }
  const res = await api(base, 'POST', '/api/v1/users', { username: uniqueName('pwmax'), password: 'p'.repeat(128) });
  assert.equal(res.status, 201, res.text);
});

test('login answers 200 with a token, the user id and an expiry in ms', async () => {
  const username = uniqueName('login');
  const { user_id } = await register(base, username, 'secret-pass');
  const before = Date.now();
  const res = await api(base, 'POST', '/api/v1/sessions', { username, password: 'secret-pass' });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.user_id, user_id);
  assert.equal(typeof res.json.token, 'string');
  assert.ok(res.json.token.length >= 16, `token too short: ${res.json.token}`);
  assert.ok(Number.isSafeInteger(res.json.expires_at));
  // The default token lifetime is 30 days.
  assert.ok(res.json.expires_at >= before + 29 * DAY_MS && res.json.expires_at <= Date.now() + 31 * DAY_MS,
    `expires_at ${res.json.expires_at} is not about 30 days from now (${before})`);

  const second = await login(base, username, 'secret-pass');
  assert.notEqual(second.token, res.json.token, 'every login makes a new token');
  for (const token of [res.json.token, second.token]) {
    const me = await api(base, 'GET', '/api/v1/users/me', undefined, token);
    assert.equal(me.status, 200, me.text);
    assert.equal(me.json.user_id, user_id);
  }
});

test('wrong password and unknown user are the same 401 unauthenticated', async () => {
  const username = uniqueName('probe');
  await register(base, username, 'right-password');
  const wrong = await api(base, 'POST', '/api/v1/sessions', { username, password: 'wrong-password' });
  assertError(wrong, 401, 'unauthenticated', 'wrong password');
  const unknown = await api(base, 'POST', '/api/v1/sessions', { username: uniqueName('nobody'), password: 'right-password' });
  assertError(unknown, 401, 'unauthenticated', 'unknown user');
  assert.deepEqual(unknown.json, wrong.json, 'the two answers must not tell the cases apart');
});

test('GET /users/me describes the caller', async () => {
  const u = await newUser(base, 'Me');
  const res = await api(base, 'GET', '/api/v1/users/me', undefined, u.token);
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(pick(res.json, ['user_id', 'username', 'online']),
    { user_id: u.user_id, username: u.username, online: false });
});

test('authenticated calls without a valid bearer token are 401', async () => {
  const u = await newUser(base, 'tok');
  for (const headers of [{}, { Authorization: 'Bearer' }, { Authorization: 'Bearer not-a-token' },
    { Authorization: `Basic ${u.token}` }, { Authorization: `Bearer ${u.token}x` }]) {
    const res = await api(base, 'GET', '/api/v1/users/me', undefined, undefined, headers);
    assertError(res, 401, 'unauthenticated', JSON.stringify(headers));
  }
  const lookup = await api(base, 'GET', `/api/v1/users?username=${u.username}`);
  assertError(lookup, 401, 'unauthenticated', 'lookup without token');
});

test('lookup by username finds the user, shown as registered', async () => {
  const asker = await newUser(base, 'asker');
  const target = await newUser(base, 'Target.X');
  const res = await api(base, 'GET', `/api/v1/users?username=${encodeURIComponent(target.username)}`, undefined, asker.token);
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(pick(res.json, ['user_id', 'username', 'online']),
    { user_id: target.user_id, username: target.username, online: false });

  const missing = await api(base, 'GET', `/api/v1/users?username=${uniqueName('ghost')}`, undefined, asker.token);
  assertError(missing, 404, 'not_found', 'unknown username');
});

test('lookup by id (an extension, docs/protocol.md) names the user', async () => {
  const asker = await newUser(base, 'askerId');
  const target = await newUser(base, 'ById');
  const res = await api(base, 'GET', `/api/v1/users/${target.user_id}`, undefined, asker.token);
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(pick(res.json, ['user_id', 'username', 'online']),
    { user_id: target.user_id, username: target.username, online: false });
  assertError(await api(base, 'GET', '/api/v1/users/9007199254740000', undefined, asker.token), 404, 'not_found', 'unknown id');
  assertError(await api(base, 'GET', '/api/v1/users/abc', undefined, asker.token), 400, 'invalid_argument', 'bad id');
  assertError(await api(base, 'GET', `/api/v1/users/${target.user_id}`), 401, 'unauthenticated', 'no token');
});

test('online is true while the user holds a WebSocket and false after', async () => {
  const asker = await newUser(base, 'watcher');
  const stranger = await newUser(base, 'stranger');
  const u = await newUser(base, 'onl');
  // Online state is shown to those who share a conversation with the user.
  await httpSend(base, asker.token, { to_user: u.user_id }, 'hi');
  const lookup = async (by = asker) => {
    const res = await api(base, 'GET', `/api/v1/users?username=${u.username}`, undefined, by.token);
    assert.equal(res.status, 200, res.text);
    return res.json.online;
  };
  assert.equal(await lookup(), false);

  const ws1 = await openWs(server, u.token);
  assert.equal(await lookup(), true, 'online once the hello arrived');
  assert.equal(await lookup(stranger), false, 'a stranger never sees the online state');
  const me = await api(base, 'GET', '/api/v1/users/me', undefined, u.token);
  assert.equal(me.json.online, true);

  const ws2 = await openWs(server, u.token);
  await ws1.close();
  await ws2.ping(); // the server has seen the first close by now or soon
  assert.equal(await lookup(), true, 'still online through the second connection');

  await ws2.close();
  await eventually(async () => (await lookup()) === false, { what: 'online to turn false', timeoutMs: 5000 });
});

test('a WebSocket with a bad or missing token is refused with HTTP 401 before the upgrade', async () => {
  for (const token of [undefined, '', 'nonsense', 'a'.repeat(300)]) {
    await assert.rejects(WsClient.connect(server.wsUrl, { token }), (err) => {
      assert.equal(err.status, 401, `token ${JSON.stringify(token)}: ${err.message}`);
      assert.equal(err.json?.error?.code, 'unauthenticated', `error body: ${err.body}`);
      assert.equal(typeof err.json.error.message, 'string');
      return true;
    });
  }
  await assert.rejects(WsClient.connect(server.wsUrl, { token: 'nonsense', query: true }), (err) => {
    assert.equal(err.status, 401, err.message);
    assert.equal(err.json?.error?.code, 'unauthenticated', err.body);
    return true;
  });
});

test('the hello frame names the user, the connection and every conversation', async () => {
  const a = await newUser(base, 'helloA');
  const b = await newUser(base, 'helloB');

  const first = await openWs(server, a.token);
  assert.equal(first.hello.type, 'hello');
  assert.equal(first.hello.user_id, a.user_id);
  assert.ok(first.hello.conn_id !== undefined && first.hello.conn_id !== null && first.hello.conn_id !== '',
    `conn_id missing in ${JSON.stringify(first.hello)}`);
  assert.deepEqual(first.hello.convs, [], 'a new user has no conversations');

  // Both ways of authenticating work: header and ?token=.
  const second = await openWs(server, a.token, { query: true });
  assert.equal(second.hello.user_id, a.user_id);
  assert.notDeepEqual(second.hello.conn_id, first.hello.conn_id, 'each connection has its own id');

  await httpSend(base, b.token, { to_user: a.user_id }, 'one');
  await httpSend(base, b.token, { to_user: a.user_id }, 'two');
  const group = await api(base, 'POST', '/api/v1/groups', { name: 'hello group', members: [b.user_id] }, a.token);
  assert.equal(group.status, 201, group.text);
  await httpSend(base, b.token, { to_group: group.json.group_id }, 'to the group');

  const third = await openWs(server, a.token);
  const convs = third.hello.convs.map((c) => pick(c, CONV_FIELDS)).sort((x, y) => x.conv.localeCompare(y.conv));
  assert.deepEqual(convs, [
    { conv: `g:${group.json.group_id}`, last_seq: 1, read_seq: 0, group_id: group.json.group_id },
    { conv: privateConv(a.user_id, b.user_id), last_seq: 2, read_seq: 0, peer: b.user_id },
  ].sort((x, y) => x.conv.localeCompare(y.conv)));
  await Promise.all([first.close(), second.close(), third.close()]);
});
