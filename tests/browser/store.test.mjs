// The web client's state model (web/store.js) in node, without a browser:
// windows of contiguous seqs, dedupe by conv+seq, gaps held back until
// filled, acks turning outbox entries into messages, and read receipts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChatStore, convForUsers, parseConv } from '../../web/store.js';

// Web Storage over a Map: what the store persists between page loads.
class MemoryStorage {
  constructor() { this.map = new Map(); }
  getItem(k) { return this.map.has(k) ? this.map.get(k) : null; }
  setItem(k, v) { this.map.set(k, String(v)); }
  removeItem(k) { this.map.delete(k); }
}

const ME = { user_id: 7, username: 'me' };
const msg = (conv, seq, from = 3, extra = {}) =>
  ({ msg_id: String(1000 + seq), conv, seq, from, body: `m${seq}`, ts: 1_700_000_000_000 + seq, ...extra });
const seqs = (store, c) => store.windowMessages(c).map((m) => m.seq);

test('conversation ids', () => {
  assert.equal(convForUsers(9, 3), 'p:3:9');
  assert.equal(convForUsers(3, 3), 'p:3:3');
  assert.deepEqual(parseConv('p:3:9'), { kind: 'p', users: [3, 9] });
  assert.deepEqual(parseConv('g:12'), { kind: 'g', groupId: 12 });
  assert.equal(parseConv('x:1'), null);
  const store = new ChatStore(ME, new MemoryStorage());
  assert.equal(store.ensureConv('p:3:7').peer, 3);
  assert.equal(store.ensureConv('p:7:7').peer, 7);
  assert.equal(store.ensureConv('g:5').groupId, 5);
});

test('messages are shown once each, contiguous, in seq order', () => {
  const store = new ChatStore(ME, new MemoryStorage());
  const conv = 'p:3:7';
  const c = store.addMessages(conv, [msg(conv, 5)]);
  assert.deepEqual(seqs(store, c), [5]);
  store.addMessages(conv, [msg(conv, 6), msg(conv, 5), msg(conv, 6)]);
  assert.deepEqual(seqs(store, c), [5, 6]);
  // Past a gap: held back until the gap is filled.
  store.addMessages(conv, [msg(conv, 9)]);
  assert.deepEqual(seqs(store, c), [5, 6]);
  assert.equal(store.gapAfter(c), 6);
  store.addMessages(conv, [msg(conv, 7), msg(conv, 8)]);
  assert.deepEqual(seqs(store, c), [5, 6, 7, 8, 9]);
  assert.equal(store.gapAfter(c), 0);
  // Older pages extend the window downwards.
  assert.equal(store.hasOlder(c), true);
  store.addMessages(conv, [1, 2, 3, 4].map((s) => msg(conv, s)));
  assert.deepEqual(seqs(store, c), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(store.hasOlder(c), false);
  assert.equal(store.lastMessage(c).body, 'm9');
});

test('a known last seq beyond the window is a gap to fill', () => {
  const store = new ChatStore(ME, new MemoryStorage());
  const c = store.updateSummary({ conv: 'g:4', last_seq: 12, read_seq: 10 });
  assert.equal(store.unread(c), 2);
  assert.equal(store.hasOlder(c), true, 'nothing loaded yet');
  store.addMessages('g:4', [msg('g:4', 10)]);
  assert.equal(store.gapAfter(c), 10);
  store.addMessages('g:4', [msg('g:4', 11), msg('g:4', 12)]);
  assert.equal(store.gapAfter(c), 0);
  store.markReadLocally(c, 12);
  assert.equal(store.unread(c), 0);
});

test('an ack turns the outbox entry into a message; a synced copy also clears it', () => {
  const storage = new MemoryStorage();
  const store = new ChatStore(ME, storage);
  const conv = 'p:3:7';
  store.addPending({ id: 'a1', conv, target: { to_user: 3 }, body: 'hi', createdAt: 1 });
  store.addPending({ id: 'a2', conv, target: { to_user: 3 }, body: 'again', createdAt: 2 });
  assert.deepEqual(store.pendingFor(conv).map((p) => p.id), ['a1', 'a2']);
  // The outbox survives a reload (a new store on the same storage).
  assert.deepEqual(new ChatStore(ME, storage).sendable().map((p) => p.id), ['a1', 'a2']);

  const c = store.ack({ type: 'ack', id: 'a1', msg_id: '99', conv, seq: 1, ts: 5 });
  assert.deepEqual(store.windowMessages(c).map((m) => [m.seq, m.body, m.from, m.id]), [[1, 'hi', 7, 'a1']]);
  assert.deepEqual(store.pendingFor(conv).map((p) => p.id), ['a2']);
  // The ack of a2 was lost, but sync brings the message with its client id.
  store.addMessages(conv, [msg(conv, 2, 7, { id: 'a2', body: 'again' })]);
  assert.deepEqual(store.pendingFor(conv), []);
  assert.deepEqual(new ChatStore(ME, storage).sendable(), []);
  assert.equal(store.ack({ type: 'ack', id: 'a2', msg_id: '100', conv, seq: 2, ts: 6 }), null);
});

test('failed sends can be retried or discarded', () => {
  const store = new ChatStore(ME, new MemoryStorage());
  store.addPending({ id: 'f1', conv: 'g:1', target: { to_group: 1 }, body: 'x', createdAt: 1 });
  store.failPending('f1', 'You are not allowed to do that.');
  assert.equal(store.sendable().length, 0);
  assert.equal(store.retryPending('f1').state, 'sending');
  store.discardPending('f1');
  assert.deepEqual(store.pendingFor('g:1'), []);
});

test('read receipts: ours move our cursor, others mark our messages read', () => {
  const storage = new MemoryStorage();
  const store = new ChatStore(ME, storage);
  const conv = 'g:2';
  const c = store.addMessages(conv, [msg(conv, 1, 7), msg(conv, 2, 7), msg(conv, 3, 4)]);
  assert.equal(store.deliveryState(c, c.messages.get(2)).state, 'sent');
  store.applyRead(conv, 4, 1);
  store.applyRead(conv, 5, 2);
  assert.deepEqual(store.deliveryState(c, c.messages.get(1)), { state: 'read', readers: 2 });
  assert.deepEqual(store.deliveryState(c, c.messages.get(2)), { state: 'read', readers: 1 });
  store.applyRead(conv, 5, 1);  // never moves back
  assert.deepEqual(store.deliveryState(c, c.messages.get(2)), { state: 'read', readers: 1 });
  store.applyRead(conv, 7, 3);
  assert.equal(store.unread(c), 0);
  // Remembered across a reload.
  const again = new ChatStore(ME, storage);
  const c2 = again.addMessages(conv, [msg(conv, 2, 7)]);
  assert.deepEqual(again.deliveryState(c2, c2.messages.get(2)), { state: 'read', readers: 1 });
});

test('the conversation list is newest activity first', () => {
  const store = new ChatStore(ME, new MemoryStorage());
  store.updateSummary({ conv: 'p:1:7', last_seq: 3, read_seq: 0 });
  store.updateSummary({ conv: 'p:2:7', last_seq: 3, read_seq: 0 });
  store.setServerOrder(['p:2:7', 'p:1:7']);
  assert.deepEqual(store.conversationList().map((c) => c.conv), ['p:2:7', 'p:1:7']);
  store.addMessages('p:1:7', [msg('p:1:7', 3)]);
  assert.deepEqual(store.conversationList().map((c) => c.conv), ['p:1:7', 'p:2:7']);
  store.learnName(1, 'ann');
  assert.equal(store.title(store.convs.get('p:1:7')), 'ann');
  assert.equal(store.title(store.convs.get('p:2:7')), 'user #2');
});

test('ids shown without a name are noted once for lookup; names persist', () => {
  const storage = new MemoryStorage();
  const store = new ChatStore(ME, storage);
  store.ensureConv('p:2:7');
  store.addMessages('g:4', [msg('g:4', 1, 3), msg('g:4', 2, 3), msg('g:4', 3, 7)]);
  store.setGroup({ group_id: 4, name: 'four', owner: 3, members: [3, 7, 9] });
  assert.deepEqual(store.takeWantedNames().sort(), [2, 3, 9], 'peers, senders and members; not me');
  assert.deepEqual(store.takeWantedNames(), [], 'taken once');
  store.addMessages('g:4', [msg('g:4', 4, 9)]);
  store.learnName(9, 'nine');
  assert.deepEqual(store.takeWantedNames(), [], 'a name learned meanwhile is not wanted');
  assert.equal(store.displayName(3), 'user #3');
  store.learnName(3, 'three');
  assert.equal(store.displayName(3), 'three');
  const again = new ChatStore(ME, storage);
  again.ensureConv('p:3:7');
  again.addMessages('g:4', [msg('g:4', 1, 9)]);
  assert.deepEqual(again.takeWantedNames(), [], 'names from storage are known');
  assert.equal(again.title(again.convs.get('p:3:7')), 'three');
});
