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

// Issue 10, finding 1: a first use of a token (its session not cached yet)
// racing the token's logout could read the session before the delete and
// answer, or cache it, after the logout returned. Each round logs in afresh,
// sends many first uses (HTTP and WebSocket) of the new token alongside its
// logout, and more once the logout answered: every use sent after the logout
// answered must be refused, and so must every use whose answer came after it
// unless it had been accepted before.
test('no use of a token sent after its logout answered is accepted, racing first uses', async () => {
  const base = server.baseUrl;
  const u = await newUser(base, 'race');
  const kUses = 12;
  for (let round = 0; round < 20; round += 1) {
    const { token } = await login(base, u.username, u.password);
    let loggedOut = false;
    const use = async (i) => {
      const sentAfter = loggedOut;
      let status;
      let socket = null;
      if (i % 4 === 3) {
        try {
          socket = await WsClient.connect(server.wsUrl, { token });
          status = 101;
        } catch (err) {
          status = err.status;
        }
      } else {
        status = (await api(base, 'GET', '/api/v1/users/me', undefined, token)).status;
      }
      if (socket) {
        // Opened before the logout answered: the logout closes it with 4001.
        const { code } = await withTimeout(socket.closed, DEFAULT_TIMEOUT_MS, 'the raced socket to close');
        assert.equal(code, 4001, `round ${round}: a socket of the revoked token`);
      }
      return { sentAfter, status };
    };
    const racing = [];
    for (let i = 0; i < kUses; i += 1) racing.push(use(i));
    const out = await api(base, 'DELETE', '/api/v1/sessions', undefined, token);
    assert.equal(out.status, 204, out.text);
    loggedOut = true;
    const after = [];
    for (let i = 0; i < kUses; i += 1) after.push(use(i));
    for (const r of [...await Promise.all(racing), ...await Promise.all(after)]) {
      if (r.sentAfter) assert.equal(r.status, 401, `round ${round}: a use sent after the logout answered`);
      else assert.ok([200, 101, 401].includes(r.status), `round ${round}: ${r.status}`);
    }
  }
});
