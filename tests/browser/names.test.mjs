// The web client's name lookups (web/name_resolver.js) in node, with the
// client's own Api and ChatStore against a real server: one request per id,
// shared by concurrent wants, a few at a time; an unknown id is not asked
// again; a failed lookup is asked again only on retryFailed().

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startParley, newUser, register, uniqueName } from '../support/parley_server.mjs';
import { Api } from '../../web/api.js';
import { ChatStore } from '../../web/store.js';
import { NameResolver, MAX_IN_FLIGHT } from '../../web/name_resolver.js';

class MemoryStorage {
  constructor() { this.map = new Map(); }
  getItem(k) { return this.map.has(k) ? this.map.get(k) : null; }
  setItem(k, v) { this.map.set(k, String(v)); }
  removeItem(k) { this.map.delete(k); }
}

// The client's Api, recording the lookups it makes and how many overlap.
class WatchedApi extends Api {
  constructor(token, base) {
    super(() => token, base);
    this.asked = [];
    this.open = 0;
    this.maxOpen = 0;
  }
  async user(userId) {
    this.asked.push(userId);
    this.maxOpen = Math.max(this.maxOpen, ++this.open);
    try {
      return await super.user(userId);
    } finally {
      this.open--;
    }
  }
}

let server;
before(async () => { server = await startParley(); });
after(async () => { await server?.dispose(); });

test('one lookup per id, a few at a time, cached in storage', async () => {
  const me = await newUser(server.baseUrl, 'nm');
  const others = [];
  for (let i = 0; i < 10; i++) others.push(await register(server.baseUrl, uniqueName(`n${i}`)));
  const storage = new MemoryStorage();
  const store = new ChatStore({ user_id: me.user_id, username: me.username }, storage);
  const api = new WatchedApi(me.token, server.baseUrl);
  const resolver = new NameResolver({ api, store });

  // Everyone wanted twice at once, as a group's members and as senders.
  const wants = [...others, ...others].map((u) => resolver.resolve(u.user_id));
  assert.deepEqual(await Promise.all(wants), [...others, ...others].map((u) => u.username));
  assert.deepEqual([...api.asked].sort((a, b) => a - b), others.map((u) => u.user_id).sort((a, b) => a - b));
  assert.ok(api.maxOpen <= MAX_IN_FLIGHT && api.maxOpen > 1, `${api.maxOpen} lookups at once`);
  for (const u of others) assert.equal(store.displayName(u.user_id), u.username);

  // Known now: no more requests, also for a store restored from storage.
  assert.equal(await resolver.resolve(others[0].user_id), others[0].username);
  const again = new ChatStore({ user_id: me.user_id, username: me.username }, storage);
  const api2 = new WatchedApi(me.token, server.baseUrl);
  const resolver2 = new NameResolver({ api: api2, store: again });
  again.ensureConv(`p:${Math.min(me.user_id, others[1].user_id)}:${Math.max(me.user_id, others[1].user_id)}`);
  resolver2.resolveWanted();
  assert.equal(await resolver2.resolve(others[1].user_id), others[1].username);
  assert.deepEqual(api2.asked, []);
  assert.equal(api.asked.length, others.length);
});

test('the ids the store notes are looked up; unknown ids once; failures on retry', async () => {
  const me = await newUser(server.baseUrl, 'nw');
  const peer = await register(server.baseUrl, uniqueName('np'));
  const store = new ChatStore({ user_id: me.user_id, username: me.username }, new MemoryStorage());
  const api = new WatchedApi(me.token, server.baseUrl);
  let authErrors = 0;
  const resolver = new NameResolver({ api, store, onAuthError: () => authErrors++ });
  // The client wiring: every change of the store schedules the lookups.
  const onChange = () => resolver.schedule();
  store.addEventListener('change', onChange);
  const learned = new Promise((resolve) => {
    store.addEventListener('change', function heard() {
      if (!store.names.has(peer.user_id)) return;
      store.removeEventListener('change', heard);
      resolve();
    });
  });
  const conv = `p:${Math.min(me.user_id, peer.user_id)}:${Math.max(me.user_id, peer.user_id)}`;
  store.ensureConv(conv);
  assert.equal(store.title(store.convs.get(conv)), `user #${peer.user_id}`, 'while the lookup runs');
  await learned;
  assert.equal(store.title(store.convs.get(conv)), peer.username);
  assert.deepEqual(api.asked, [peer.user_id]);
  store.removeEventListener('change', onChange);

  // An id nobody has: asked once, then left as `user #N`.
  const nobody = 2_000_000_000;
  assert.equal(await resolver.resolve(nobody), null);
  assert.equal(await resolver.resolve(nobody), null);
  store.addMessages('g:1', [{ msg_id: '1', conv: 'g:1', seq: 1, from: nobody, body: 'x', ts: 1 }]);
  resolver.resolveWanted();
  assert.deepEqual(api.asked, [peer.user_id, nobody]);
  assert.equal(store.displayName(nobody), `user #${nobody}`);
  resolver.retryFailed();
  assert.deepEqual(api.asked, [peer.user_id, nobody], 'not found is not a passing failure');

  // A session the server no longer knows: the lookup fails, the owner hears
  // of it, and the id is not asked again until retryFailed().
  const other = await register(server.baseUrl, uniqueName('nx'));
  const stale = new WatchedApi('not-a-valid-token', server.baseUrl);
  const staleResolver = new NameResolver({ api: stale, store, onAuthError: () => authErrors++ });
  assert.equal(await staleResolver.resolve(other.user_id), null);
  assert.equal(authErrors, 1);
  store.ensureConv(`p:${Math.min(me.user_id, other.user_id)}:${Math.max(me.user_id, other.user_id)}`);
  staleResolver.resolveWanted();
  assert.deepEqual(stale.asked, [other.user_id]);
  staleResolver.retryFailed();
  assert.deepEqual(stale.asked, [other.user_id, other.user_id]);
  assert.equal(await staleResolver.resolve(other.user_id), null);
  assert.equal(authErrors, 2);

  // A stopped resolver asks nothing.
  resolver.stop();
  assert.equal(await resolver.resolve(other.user_id), null);
  assert.deepEqual(api.asked, [peer.user_id, nobody]);
});
