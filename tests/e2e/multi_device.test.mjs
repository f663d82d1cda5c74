// Several connections of one user: every connection of a recipient gets the
// message, the sender's other connections get it too (but not the one that
// sent it, which gets the ack), and an HTTP send reaches every socket of the
// sender.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startParley, newUser, openWs, wsSend, httpSend, clientId, privateConv, pick, MSG_FIELDS,
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

test('both sockets of the recipient receive the message', async () => {
  const a = await newUser(base, 'mdA');
  const b = await newUser(base, 'mdB');
  const wa = await openWs(server, a.token);
  const wb1 = await openWs(server, b.token);
  const wb2 = await openWs(server, b.token, { query: true });

  const ack = await wsSend(wa, { to_user: b.user_id }, 'to both phones');
  const [m1, m2] = await Promise.all([wb1.next({ type: 'msg' }), wb2.next({ type: 'msg' })]);
  const expected = {
    msg_id: ack.msg_id, conv: privateConv(a.user_id, b.user_id), seq: 1, from: a.user_id, to_user: b.user_id,
    body: 'to both phones', ts: ack.ts, id: ack.id,
  };
  assert.deepEqual(pick(m1, MSG_FIELDS), expected);
  assert.deepEqual(pick(m2, MSG_FIELDS), expected);
  await Promise.all([wa, wb1, wb2].map((w) => w.close()));
});

test("the sender's other connection receives its own message; the sending one gets only the ack", async () => {
  const a = await newUser(base, 'echoA');
  const b = await newUser(base, 'echoB');
  const laptop = await openWs(server, a.token);
  const phone = await openWs(server, a.token);
  const wb = await openWs(server, b.token);

  const ack = await wsSend(laptop, { to_user: b.user_id }, 'typed on the laptop');
  const onPhone = await phone.next({ type: 'msg', id: ack.id });
  assert.deepEqual(pick(onPhone, MSG_FIELDS), {
    msg_id: ack.msg_id, conv: ack.conv, seq: ack.seq, from: a.user_id, to_user: b.user_id,
    body: 'typed on the laptop', ts: ack.ts, id: ack.id,
  });
  await wb.next({ type: 'msg', id: ack.id });

  // The push went out to the phone and to B; the laptop would have got it in
  // the same round. After a ping round trip nothing may be pending for it.
  await laptop.ping();
  assert.deepEqual(laptop.take({ type: 'msg' }), [], 'the sending connection is not pushed its own message');

  // The reply reaches both of A's connections.
  const reply = await wsSend(wb, { to_user: a.user_id }, 'got it');
  for (const w of [laptop, phone]) assert.equal((await w.next({ type: 'msg', id: reply.id })).seq, ack.seq + 1);
  await Promise.all([laptop, phone, wb].map((w) => w.close()));
});

test("an HTTP send is pushed to all of the sender's sockets and the recipient's", async () => {
  const a = await newUser(base, 'hA');
  const b = await newUser(base, 'hB');
  const a1 = await openWs(server, a.token);
  const a2 = await openWs(server, a.token);
  const b1 = await openWs(server, b.token);

  const id = clientId('web');
  const ack = await httpSend(base, a.token, { to_user: b.user_id }, 'from the web form', id);
  for (const w of [a1, a2, b1]) {
    const m = await w.next({ type: 'msg', id });
    assert.deepEqual(pick(m, ['msg_id', 'seq', 'from', 'body']),
      { msg_id: ack.msg_id, seq: ack.seq, from: a.user_id, body: 'from the web form' });
  }
  await Promise.all([a1, a2, b1].map((w) => w.close()));
});

test('a connection that closes does not stop delivery to the others', async () => {
  const a = await newUser(base, 'dropA');
  const b = await newUser(base, 'dropB');
  const wa = await openWs(server, a.token);
  const gone = await openWs(server, b.token);
  const stays = await openWs(server, b.token);
  await gone.terminate(); // no close handshake: like a lost network

  for (let i = 1; i <= 3; i++) {
    const ack = await wsSend(wa, { to_user: b.user_id }, `n${i}`);
    const m = await stays.next({ type: 'msg', id: ack.id });
    assert.equal(m.seq, i);
  }
  await Promise.all([wa.close(), stays.close()]);
});

test('a group message reaches every connection of every member, and the sender\'s others', async () => {
  const a = await newUser(base, 'gmA');
  const b = await newUser(base, 'gmB');
  const res = await fetch(`${base}/api/v1/groups`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${a.token}` },
    body: JSON.stringify({ name: 'devices', members: [b.user_id] }),
  });
  assert.equal(res.status, 201);
  const g = await res.json();
  const conns = {
    a1: await openWs(server, a.token),
    a2: await openWs(server, a.token),
    b1: await openWs(server, b.token),
    b2: await openWs(server, b.token),
  };
  const ack = await wsSend(conns.a1, { to_group: g.group_id }, 'everyone');
  for (const k of ['a2', 'b1', 'b2']) {
    const m = await conns[k].next({ type: 'msg', id: ack.id });
    assert.deepEqual(pick(m, ['conv', 'seq', 'to_group', 'from']),
      { conv: `g:${g.group_id}`, seq: 1, to_group: g.group_id, from: a.user_id }, k);
  }
  await conns.a1.ping();
  assert.deepEqual(conns.a1.take({ type: 'msg' }), []);
  await Promise.all(Object.values(conns).map((w) => w.close()));
});
