// Logout: DELETE /api/v1/sessions revokes the caller's token at once and
// closes that token's live WebSockets with 4001; other tokens of the same
// user are unaffected. A revoked token stays revoked across a restart.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startParley, api, assertError, newUser, login, openWs, WsClient, DEFAULT_TIMEOUT_MS, withTimeout,
} from '../support/parley_server.mjs';

let server;

before(async () => {
  server = await startParley();
});
after(async () => {
  await server?.dispose();
});

test('logout answers 204 and the token stops working at once', async () => {
  const base = server.baseUrl;
  const u = await newUser(base, 'bye');
  const other = await login(base, u.username, u.password);

  const res = await api(base, 'DELETE', '/api/v1/sessions', undefined, u.token);
  assert.equal(res.status, 204, res.text);
  assert.equal(res.text, '', '204 has no body');

  assertError(await api(base, 'GET', '/api/v1/users/me', undefined, u.token), 401, 'unauthenticated', 'revoked token');
  assertError(await api(base, 'POST', '/api/v1/messages', { id: 'x1', to_user: u.user_id, body: 'hi' }, u.token),
    401, 'unauthenticated', 'send with revoked token');
  assertError(await api(base, 'DELETE', '/api/v1/sessions', undefined, u.token), 401, 'unauthenticated',
    'second logout with the same token');
  await assert.rejects(WsClient.connect(server.wsUrl, { token: u.token }), (err) => {
    assert.equal(err.status, 401, err.message);
    assert.equal(err.json?.error?.code, 'unauthenticated', err.body);
    return true;
  });

  const me = await api(base, 'GET', '/api/v1/users/me', undefined, other.token);
  assert.equal(me.status, 200, `another token of the same user keeps working: ${me.text}`);
});

test('logout without a token is 401', async () => {
  assertError(await api(server.baseUrl, 'DELETE', '/api/v1/sessions'), 401, 'unauthenticated');
});

test("logout closes the token's WebSockets with 4001 and leaves other tokens' open", async () => {
  const base = server.baseUrl;
  const u = await newUser(base, 'multi');
  const keep = await login(base, u.username, u.password);
  const peer = await newUser(base, 'peer');

  const doomed1 = await openWs(server, u.token);
  const doomed2 = await openWs(server, u.token, { query: true });
  const kept = await openWs(server, keep.token);

  const res = await api(base, 'DELETE', '/api/v1/sessions', undefined, u.token);
  assert.equal(res.status, 204, res.text);

  for (const ws of [doomed1, doomed2]) {
    const { code } = await withTimeout(ws.closed, DEFAULT_TIMEOUT_MS, 'the logged-out socket to close');
    assert.equal(code, 4001);
  }

  // The other token's socket is alive and still receives messages.
  await kept.ping();
  const sent = await api(base, 'POST', '/api/v1/messages', { id: 'after-logout', to_user: u.user_id, body: 'still there?' }, peer.token);
  assert.equal(sent.status, 200, sent.text);
  const msg = await kept.next({ type: 'msg', id: 'after-logout' });
  assert.equal(msg.body, 'still there?');
  await kept.close();
});

test('a revoked token stays revoked after a restart; others survive it', async () => {
  const base = server.baseUrl;
  const u = await newUser(base, 'persist');
  const keep = await login(base, u.username, u.password);
  assert.equal((await api(base, 'DELETE', '/api/v1/sessions', undefined, u.token)).status, 204);

  await server.restart();
  const after = server.baseUrl;
  assertError(await api(after, 'GET', '/api/v1/users/me', undefined, u.token), 401, 'unauthenticated',
    'revoked before the restart');
  const me = await api(after, 'GET', '/api/v1/users/me', undefined, keep.token);
  assert.equal(me.status, 200, me.text);
  assert.equal(me.json.user_id, u.user_id);
});
