// Groups: creation, who may see a group, adding and removing members, the
// owner leaving, and group messages reaching exactly the members.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startParley, api, assertError, newUser, openWs, wsSend, httpSend, createGroup, clientId,
  fullHistory, pick, MSG_FIELDS, privateConv,
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

const sorted = (ids) => [...ids].sort((x, y) => x - y);

async function getGroup(groupId, token) {
  return api(base, 'GET', `/api/v1/groups/${groupId}`, undefined, token);
}

async function addMember(groupId, token, userId) {
  return api(base, 'POST', `/api/v1/groups/${groupId}/members`, { user_id: userId }, token);
}

async function removeMember(groupId, token, userId) {
  return api(base, 'DELETE', `/api/v1/groups/${groupId}/members/${userId}`, undefined, token);
}

async function members(groupId, token) {
  const res = await getGroup(groupId, token);
  assert.equal(res.status, 200, res.text);
  return { owner: res.json.owner, members: sorted(res.json.members) };
}

test('creating a group makes the creator its owner and a member', async () => {
  const owner = await newUser(base, 'own');
  const m1 = await newUser(base, 'm1');
  const m2 = await newUser(base, 'm2');

  const res = await api(base, 'POST', '/api/v1/groups', { name: 'Team Rocket 🚀', members: [m1.user_id, m2.user_id] }, owner.token);
  assert.equal(res.status, 201, res.text);
  const g = res.json;
  assert.ok(Number.isSafeInteger(g.group_id) && g.group_id > 0, `group_id ${g.group_id}`);
  assert.equal(g.name, 'Team Rocket 🚀');
  assert.equal(g.owner, owner.user_id);
  assert.deepEqual(sorted(g.members), sorted([owner.user_id, m1.user_id, m2.user_id]));

  // Every member sees the same group.
  for (const who of [owner, m1, m2]) {
    const got = await getGroup(g.group_id, who.token);
    assert.equal(got.status, 200, got.text);
    assert.deepEqual({ ...pick(got.json, ['group_id', 'name', 'owner']), members: sorted(got.json.members) },
      { group_id: g.group_id, name: g.name, owner: owner.user_id, members: sorted(g.members) });
  }

  // Naming the creator among the members does not list them twice.
  const again = await createGroup(base, owner.token, 'dup', [owner.user_id, m1.user_id, m1.user_id]);
  assert.deepEqual(sorted(again.members), sorted([owner.user_id, m1.user_id]));
  assert.notEqual(again.group_id, g.group_id);

  // A group of one.
  const solo = await createGroup(base, owner.token, 'solo', []);
  assert.deepEqual(solo.members, [owner.user_id]);
});

test('group creation validates its input', async () => {
  const u = await newUser(base, 'gval');
  assertError(await api(base, 'POST', '/api/v1/groups', { name: '', members: [] }, u.token), 400, 'invalid_argument', 'empty name');
  assertError(await api(base, 'POST', '/api/v1/groups', { name: 'n'.repeat(65), members: [] }, u.token), 400, 'invalid_argument', '65-byte name');
  assertError(await api(base, 'POST', '/api/v1/groups', { name: 'é'.repeat(33), members: [] }, u.token), 400, 'invalid_argument', '66-byte name');
  assertError(await api(base, 'POST', '/api/v1/groups', { members: [] }, u.token), 400, 'invalid_argument', 'no name');
  assertError(await api(base, 'POST', '/api/v1/groups', { name: 'x', members: ['1'] }, u.token), 400, 'invalid_argument', 'string id');
  assertError(await api(base, 'POST', '/api/v1/groups', { name: 'x', members: 5 }, u.token), 400, 'invalid_argument', 'members not a list');
  assertError(await api(base, 'POST', '/api/v1/groups', { name: 'x', members: [9_000_000_000_000] }, u.token), 404, 'not_found', 'unknown member');
  assertError(await api(base, 'POST', '/api/v1/groups', { name: 'x', members: [] }), 401, 'unauthenticated', 'no token');
  const ok = await createGroup(base, u.token, 'n'.repeat(64), []);
  assert.equal(ok.name, 'n'.repeat(64));
});

test('only members may see a group; an unknown group is 404', async () => {
  const owner = await newUser(base, 'vis');
  const stranger = await newUser(base, 'str');
  const g = await createGroup(base, owner.token, 'private club', []);
  assertError(await getGroup(g.group_id, stranger.token), 403, 'permission_denied', 'non-member GET');
  assertError(await getGroup(9_000_000_000_000, owner.token), 404, 'not_found', 'unknown group');
  assertError(await getGroup(g.group_id, undefined), 401, 'unauthenticated', 'no token');
});

test('a member adds members; a non-member cannot; re-adding is a 204 no-op', async () => {
  const owner = await newUser(base, 'add');
  const m = await newUser(base, 'addm');
  const n = await newUser(base, 'addn');
  const outsider = await newUser(base, 'addo');
  const g = await createGroup(base, owner.token, 'adders', [m.user_id]);

  // Any member may add, not only the owner.
  const added = await addMember(g.group_id, m.token, n.user_id);
  assert.equal(added.status, 204, added.text);
  assert.equal(added.text, '');
  assert.deepEqual(await members(g.group_id, n.token),
    { owner: owner.user_id, members: sorted([owner.user_id, m.user_id, n.user_id]) });

  assertError(await addMember(g.group_id, outsider.token, outsider.user_id), 403, 'permission_denied', 'outsider adds self');
  assertError(await addMember(g.group_id, owner.token, 9_000_000_000_000), 404, 'not_found', 'unknown user');
  assertError(await addMember(9_000_000_000_000, owner.token, n.user_id), 404, 'not_found', 'unknown group');

  const readd = await addMember(g.group_id, owner.token, n.user_id);
  assert.equal(readd.status, 204, readd.text);
  assert.deepEqual(await members(g.group_id, owner.token),
    { owner: owner.user_id, members: sorted([owner.user_id, m.user_id, n.user_id]) });
});

test('non-members cannot send to a group, over HTTP or WebSocket', async () => {
  const owner = await newUser(base, 'snd');
  const outsider = await newUser(base, 'sndo');
  const g = await createGroup(base, owner.token, 'closed', []);

  assertError(await api(base, 'POST', '/api/v1/messages', { id: 'nm1', to_group: g.group_id, body: 'let me in' }, outsider.token),
    403, 'permission_denied', 'HTTP send by a non-member');
  const wo = await openWs(server, outsider.token);
  wo.send({ type: 'send', id: 'nm2', to_group: g.group_id, body: 'let me in' });
  const err = await wo.next({ type: 'error' });
  assert.deepEqual(pick(err, ['type', 'id', 'code']), { type: 'error', id: 'nm2', code: 'permission_denied' });
  assert.equal(typeof err.message, 'string');

  assertError(await api(base, 'GET', `/api/v1/conversations/g:${g.group_id}/messages`, undefined, outsider.token),
    403, 'permission_denied', 'history by a non-member');
  wo.send({ type: 'sync', conv: `g:${g.group_id}`, after_seq: 0, limit: 10 });
  assert.equal((await wo.next({ type: 'error' })).code, 'permission_denied');

  assertError(await api(base, 'POST', '/api/v1/messages', { id: 'nm3', to_group: 9_000_000_000_000, body: 'x' }, owner.token),
    404, 'not_found', 'send to an unknown group');
  assert.deepEqual(await fullHistory(base, owner.token, `g:${g.group_id}`), [], 'nothing was stored');
  await wo.close();
});

test('a group message reaches every member connection, and only members', async () => {
  const a = await newUser(base, 'ga');
  const b = await newUser(base, 'gb');
  const c = await newUser(base, 'gc');
  const outsider = await newUser(base, 'gout');
  const g = await createGroup(base, a.token, 'trio', [b.user_id, c.user_id]);
  const conv = `g:${g.group_id}`;

  const wa1 = await openWs(server, a.token);
  const wa2 = await openWs(server, a.token);
  const wb = await openWs(server, b.token);
  const wc = await openWs(server, c.token);
  const wo = await openWs(server, outsider.token);

  const ack = await wsSend(wa1, { to_group: g.group_id }, 'hello group');
  assert.equal(ack.conv, conv);
  assert.equal(ack.seq, 1);
  const expected = {
    type: 'msg', msg_id: ack.msg_id, conv, seq: 1, from: a.user_id, to_group: g.group_id,
    body: 'hello group', ts: ack.ts, id: ack.id,
  };
  for (const ws of [wa2, wb, wc]) {
    const msg = await ws.next({ type: 'msg', id: ack.id });
    assert.deepEqual(pick(msg, ['type', ...MSG_FIELDS]), expected);
  }

  const ack2 = await httpSend(base, c.token, { to_group: g.group_id }, 'from c');
  assert.equal(ack2.seq, 2);
  for (const ws of [wa1, wa2, wb]) assert.equal((await ws.next({ type: 'msg', id: ack2.id })).body, 'from c');

  await wo.ping();
  assert.deepEqual(wo.take({ type: 'msg' }), [], 'an outsider receives nothing');

  const list = await api(base, 'GET', '/api/v1/conversations', undefined, b.token);
  assert.deepEqual(list.json.conversations.map((x) => pick(x, ['conv', 'last_seq', 'group_id'])),
    [{ conv, last_seq: 2, group_id: g.group_id }]);
  await Promise.all([wa1, wa2, wb, wc, wo].map((w) => w.close()));
});

test('a member leaves; a removed member loses access and pushes', async () => {
  const owner = await newUser(base, 'lo');
  const leaver = await newUser(base, 'll');
  const removed = await newUser(base, 'lr');
  const stay = await newUser(base, 'ls');
  const g = await createGroup(base, owner.token, 'leavers', [leaver.user_id, removed.user_id, stay.user_id]);

  const left = await removeMember(g.group_id, leaver.token, leaver.user_id);
  assert.equal(left.status, 204, left.text);
  assertError(await getGroup(g.group_id, leaver.token), 403, 'permission_denied', 'after leaving');

  const wr = await openWs(server, removed.token);
  const kicked = await removeMember(g.group_id, owner.token, removed.user_id);
  assert.equal(kicked.status, 204, kicked.text);
  assert.deepEqual(await members(g.group_id, owner.token),
    { owner: owner.user_id, members: sorted([owner.user_id, stay.user_id]) });

  assertError(await getGroup(g.group_id, removed.token), 403, 'permission_denied', 'after removal');
  assertError(await api(base, 'POST', '/api/v1/messages', { id: 'r1', to_group: g.group_id, body: 'x' }, removed.token),
    403, 'permission_denied', 'send after removal');

  const ws = await openWs(server, stay.token);
  const ack = await httpSend(base, owner.token, { to_group: g.group_id }, 'without them');
  await ws.next({ type: 'msg', id: ack.id });
  await wr.ping();
  assert.deepEqual(wr.take({ type: 'msg' }), [], 'a removed member gets no pushes');
  await Promise.all([wr.close(), ws.close()]);
});

test('a non-owner cannot remove others', async () => {
  const owner = await newUser(base, 'no');
  const m = await newUser(base, 'nm');
  const n = await newUser(base, 'nn');
  const g = await createGroup(base, owner.token, 'hierarchy', [m.user_id, n.user_id]);
  assertError(await removeMember(g.group_id, m.token, n.user_id), 403, 'permission_denied', 'member removes member');
  assertError(await removeMember(g.group_id, m.token, owner.user_id), 403, 'permission_denied', 'member removes owner');
  assert.deepEqual(await members(g.group_id, owner.token),
    { owner: owner.user_id, members: sorted([owner.user_id, m.user_id, n.user_id]) });
});

test('when the owner leaves, ownership passes to the longest-standing member', async () => {
  const owner = await newUser(base, 'old');
  const first = await newUser(base, 'first');
  const second = await newUser(base, 'second');
  const third = await newUser(base, 'third');
  const g = await createGroup(base, owner.token, 'succession', []);
  // Joined in this order: first, second, third. Re-adding first later must
  // not change its standing.
  for (const u of [first, second, third]) assert.equal((await addMember(g.group_id, owner.token, u.user_id)).status, 204);
  assert.equal((await addMember(g.group_id, third.token, first.user_id)).status, 204);

  assert.equal((await removeMember(g.group_id, owner.token, owner.user_id)).status, 204);
  assert.deepEqual(await members(g.group_id, first.token),
    { owner: first.user_id, members: sorted([first.user_id, second.user_id, third.user_id]) });

  // The new owner has the owner's rights; the old one has none.
  assertError(await getGroup(g.group_id, owner.token), 403, 'permission_denied', 'old owner after leaving');
  assert.equal((await removeMember(g.group_id, first.token, third.user_id)).status, 204);

  assert.equal((await removeMember(g.group_id, first.token, first.user_id)).status, 204);
  assert.deepEqual(await members(g.group_id, second.token), { owner: second.user_id, members: [second.user_id] });

  // The history stays readable for the remaining member.
  const ack = await httpSend(base, second.token, { to_group: g.group_id }, 'last one here');
  assert.equal(ack.seq, 1);
  const history = await fullHistory(base, second.token, `g:${g.group_id}`);
  assert.deepEqual(history.map((m) => m.body), ['last one here']);
});

test('a group message in history has to_group and the sender', async () => {
  const a = await newUser(base, 'gh');
  const g = await createGroup(base, a.token, 'hist', []);
  const id = clientId('gh');
  const ack = await httpSend(base, a.token, { to_group: g.group_id }, 'kept', id);
  const [m] = await fullHistory(base, a.token, `g:${g.group_id}`);
  assert.deepEqual(pick(m, MSG_FIELDS), {
    msg_id: ack.msg_id, conv: `g:${g.group_id}`, seq: 1, from: a.user_id, to_group: g.group_id, body: 'kept', ts: ack.ts, id,
  });
});

// ---- consent, bounds and rate limits (issue 10, findings 4, 9 and 10) ----

async function settings(token, body) {
  return body === undefined
    ? api(base, 'GET', '/api/v1/users/me/settings', undefined, token)
    : api(base, 'PUT', '/api/v1/users/me/settings', body, token);
}

test('a member list longer than limits.group_members_max is refused, duplicates or not', async () => {
  const owner = await newUser(base, 'big');
  const m = await newUser(base, 'bm');
  // 1000 is the default bound: one id repeated 1001 times is refused for its length.
  assertError(await api(base, 'POST', '/api/v1/groups', { name: 'huge', members: Array(1001).fill(m.user_id) }, owner.token),
    400, 'invalid_argument', '1001 entries');
  const g = await createGroup(base, owner.token, 'repeats', Array(999).fill(m.user_id));
  assert.deepEqual(sorted(g.members), sorted([owner.user_id, m.user_id]));
});

test('a user who says nobody may add it is not added, and leaves what it is in', async () => {
  const owner = await newUser(base, 'co');
  const shy = await newUser(base, 'cs');
  const other = await newUser(base, 'cx');
  const before = await createGroup(base, owner.token, 'before', [shy.user_id]);

  let res = await settings(shy.token);
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json, { group_adds: 'anyone' });
  assertError(await settings(shy.token, { group_adds: 'friends' }), 400, 'invalid_argument', 'unknown value');
  assertError(await settings(shy.token, { group_adds: 1 }), 400, 'invalid_argument', 'not a string');
  assertError(await api(base, 'PUT', '/api/v1/users/me/settings', { group_adds: 'nobody' }), 401, 'unauthenticated', 'no token');
  res = await settings(shy.token, { group_adds: 'nobody' });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json, { group_adds: 'nobody' });
  assert.deepEqual((await settings(shy.token)).json, { group_adds: 'nobody' });

  const g = await createGroup(base, owner.token, 'after', [other.user_id]);
  assertError(await addMember(g.group_id, owner.token, shy.user_id), 403, 'permission_denied', 'add');
  assertError(await addMember(g.group_id, other.token, shy.user_id), 403, 'permission_denied', 'add by a member');
  assertError(await api(base, 'POST', '/api/v1/groups', { name: 'x', members: [shy.user_id] }, owner.token),
    403, 'permission_denied', 'create');
  // Its own groups are its choice.
  await createGroup(base, shy.token, 'mine', [owner.user_id]);

  // It leaves the group it was put in before, and hello no longer lists it.
  const left = await removeMember(before.group_id, shy.token, shy.user_id);
  assert.equal(left.status, 204, left.text);
  const ws = await openWs(server, shy.token);
  assert.ok(!ws.hello.convs.some((c) => c.conv === `g:${before.group_id}`), JSON.stringify(ws.hello));
  assert.equal(ws.hello.has_more, false);
  await ws.close();

  await settings(shy.token, { group_adds: 'anyone' });
  assert.equal((await addMember(g.group_id, owner.token, shy.user_id)).status, 204);
});

test('groups per user are bounded, and hello and the conversation list are paged', async () => {
  const small = await startParley({ config: { limits: { groups_per_user_max: 3, conversations_page_max: 2 } } });
  try {
    const b = small.baseUrl;
    const spammer = await newUser(b, 'sp');
    const victim = await newUser(b, 'vi');
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await createGroup(b, spammer.token, `spam${i}`, [victim.user_id])).group_id);
    // The spammer is in 3 groups too: it cannot create a fourth...
    assertError(await api(b, 'POST', '/api/v1/groups', { name: 'more', members: [] }, spammer.token),
      400, 'invalid_argument', 'creator at the bound');
    // ...and an accomplice cannot put the victim in one.
    const other = await newUser(b, 'ac');
    const g = await createGroup(b, other.token, 'other', []);
    const res = await api(b, 'POST', `/api/v1/groups/${g.group_id}/members`, { user_id: victim.user_id }, other.token);
    assertError(res, 400, 'invalid_argument', 'victim at the bound');
    assert.match(res.json.error.message, new RegExp(`user ${victim.user_id} `));

    // hello: the first page; the list: the rest, each conversation once.
    const friend = await newUser(b, 'fr');
    await httpSend(b, friend.token, { to_user: victim.user_id }, 'hi');
    const ws = await openWs(small, victim.token);
    assert.equal(ws.hello.convs.length, 2);
    assert.equal(ws.hello.convs[0].conv, privateConv(friend.user_id, victim.user_id), 'newest first');
    assert.equal(ws.hello.has_more, true);
    const seen = ws.hello.convs.map((c) => c.conv);
    let next = ws.hello.next;
    while (next) {
      const page = await api(b, 'GET', `/api/v1/conversations?before=${encodeURIComponent(next)}`, undefined, victim.token);
      assert.equal(page.status, 200, page.text);
      assert.ok(page.json.conversations.length <= 2);
      seen.push(...page.json.conversations.map((c) => c.conv));
      next = page.json.has_more ? page.json.next : null;
    }
    assert.deepEqual([...seen].sort(),
      [privateConv(friend.user_id, victim.user_id), ...ids.map((id) => `g:${id}`)].sort());
    const first = await api(b, 'GET', '/api/v1/conversations?limit=1', undefined, victim.token);
    assert.equal(first.json.conversations.length, 1);
    assert.equal(first.json.has_more, true);
    assertError(await api(b, 'GET', '/api/v1/conversations?limit=3', undefined, victim.token), 400, 'invalid_argument', 'limit over the page max');
    assertError(await api(b, 'GET', '/api/v1/conversations?before=nonsense', undefined, victim.token), 400, 'invalid_argument', 'bad cursor');

    // Leaving one makes room again.
    assert.equal((await api(b, 'DELETE', `/api/v1/groups/${ids[0]}/members/${victim.user_id}`, undefined, victim.token)).status, 204);
    assert.equal((await api(b, 'POST', `/api/v1/groups/${g.group_id}/members`, { user_id: victim.user_id }, other.token)).status, 204);
    await ws.close();
  } finally {
    await small.dispose();
  }
});

test('creating groups and adding members are rate limited per user, with Retry-After', async () => {
  const slow = await startParley({
    config: { rate: { group_create_per_sec: 0.01, group_create_burst: 2, group_add_per_sec: 0.01, group_add_burst: 1 } },
  });
  try {
    const b = slow.baseUrl;
    const u = await newUser(b, 'rl');
    const x = await newUser(b, 'rx');
    const y = await newUser(b, 'ry');
    const g = await createGroup(b, u.token, 'one', []);
    await createGroup(b, u.token, 'two', []);
    const limited = await api(b, 'POST', '/api/v1/groups', { name: 'three', members: [] }, u.token);
    assertError(limited, 429, 'rate_limited', 'third create');
    assert.ok(Number(limited.headers.get('retry-after')) >= 1, limited.headers.get('retry-after'));
    await createGroup(b, x.token, 'theirs', []);  // another user is not limited

    assert.equal((await api(b, 'POST', `/api/v1/groups/${g.group_id}/members`, { user_id: x.user_id }, u.token)).status, 204);
    assertError(await api(b, 'POST', `/api/v1/groups/${g.group_id}/members`, { user_id: y.user_id }, u.token),
      429, 'rate_limited', 'second add');
  } finally {
    await slow.dispose();
  }
});
