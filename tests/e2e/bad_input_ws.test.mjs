// Bad input on the WebSocket: a frame the server cannot act on gets an error
// frame (carrying the frame's id when it had one) and the connection stays
// open; protocol violations (invalid UTF-8, a frame over 64 KiB) close that
// connection only.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startParley, newUser, openWs, wsSend, privateConv, fullHistory, withTimeout, DEFAULT_TIMEOUT_MS, pick,
} from '../support/parley_server.mjs';

let server;
let base;
let a;
let b;

before(async () => {
  server = await startParley();
  base = server.baseUrl;
  a = await newUser(base, 'wsA');
  b = await newUser(base, 'wsB');
});
after(async () => {
  await server?.dispose();
});

// Sends `raw` and expects one error frame with `code` (and `id` if given),
// then proves the connection still works with a ping.
async function expectError(ws, raw, { code = 'invalid_argument', id } = {}) {
  ws.sendRaw(typeof raw === 'string' ? raw : JSON.stringify(raw));
  const err = await ws.next((f) => f.type === 'error' || f.type === 'ack' || f.type === 'sync' || f.type === 'pong');
  const what = `${JSON.stringify(raw).slice(0, 120)} -> ${JSON.stringify(err).slice(0, 300)}`;
  assert.equal(err.type, 'error', what);
  assert.equal(err.code, code, what);
  assert.equal(typeof err.message, 'string', what);
  if (id !== undefined) assert.equal(err.id, id, `the error carries the frame's id: ${what}`);
  await ws.ping();
  return err;
}

test('frames that are not JSON objects get an error frame and the connection stays open', async () => {
  const ws = await openWs(server, a.token);
  for (const raw of ['not json', '{', '{"type":"ping"', '', '[]', '[{"type":"ping"}]', '"ping"', '42', 'null', 'true']) {
    await expectError(ws, raw);
  }
  await ws.close();
});

test('a missing, mistyped or unknown type gets an error frame carrying the id', async () => {
  const ws = await openWs(server, a.token);
  await expectError(ws, { id: 'm1' }, { id: 'm1' });
  await expectError(ws, { type: 5, id: 'm2' }, { id: 'm2' });
  await expectError(ws, { type: null, id: 'm3' }, { id: 'm3' });
  await expectError(ws, { type: 'teleport', id: 'm4' }, { id: 'm4' });
  await expectError(ws, { type: 'SEND', id: 'm5', to_user: b.user_id, body: 'x' }, { id: 'm5' });
  await expectError(ws, { type: 'hello' });
  await ws.close();
});

test('send frames with missing or wrong-typed fields get an error frame with their id', async () => {
  const ws = await openWs(server, a.token);
  const cases = [
    { type: 'send', id: 's1', body: 'no recipient' },
    { type: 'send', id: 's2', to_user: b.user_id },
    { type: 'send', id: 's3', to_user: String(b.user_id), body: 'string recipient' },
    { type: 'send', id: 's4', to_user: -b.user_id, body: 'negative' },
    { type: 'send', id: 's5', to_user: b.user_id + 0.5, body: 'float' },
    { type: 'send', id: 's6', to_user: 2 ** 53, body: 'too big' },
    { type: 'send', id: 's7', to_user: b.user_id, body: 17 },
    { type: 'send', id: 's8', to_user: b.user_id, body: '' },
    { type: 'send', id: 's9', to_user: b.user_id, body: 'x'.repeat(4097) },
    { type: 'send', id: 's10', to_user: b.user_id, to_group: 1, body: 'both' },
    { type: 'send', id: 's11', to_group: '1', body: 'string group' },
    { type: 'send', id: 's12', to_user: 0, body: 'zero' },
  ];
  for (const frame of cases) await expectError(ws, frame, { id: frame.id });
  // Without a usable id there is no id to carry, but still an error frame.
  await expectError(ws, { type: 'send', to_user: b.user_id, body: 'no id' });
  await expectError(ws, { type: 'send', id: 12, to_user: b.user_id, body: 'numeric id' });
  await expectError(ws, { type: 'send', id: 'bad id!', to_user: b.user_id, body: 'bad id' });
  await expectError(ws, { type: 'send', id: 'z'.repeat(65), to_user: b.user_id, body: 'long id' });
  await expectError(ws, { type: 'send', id: 'big', to_user: '9007199254740993', body: 'x' }, { id: 'big' });
  await expectError(ws, `{"type":"send","id":"huge","to_user":9007199254740993,"body":"x"}`, { id: 'huge' });
  await expectError(ws, `{"type":"send","id":"sur","to_user":${b.user_id},"body":"\\udc00"}`, { id: 'sur' });

  // None of them was stored; a good send still works and gets seq 1.
  assert.deepEqual(await fullHistory(base, a.token, privateConv(a.user_id, b.user_id)), []);
  const ack = await wsSend(ws, { to_user: b.user_id }, 'finally valid');
  assert.equal(ack.seq, 1);
  await ws.close();
});

test('an unknown recipient gets error not_found with the id', async () => {
  const ws = await openWs(server, a.token);
  await expectError(ws, { type: 'send', id: 'who', to_user: 9_000_000_000_000, body: 'hello?' }, { id: 'who', code: 'not_found' });
  await expectError(ws, { type: 'send', id: 'what', to_group: 9_000_000_000_000, body: 'hello?' }, { id: 'what', code: 'not_found' });
  await ws.close();
});

test('a binary frame gets an error frame and the connection stays open', async () => {
  const ws = await openWs(server, a.token);
  ws.sendRaw(Buffer.from(JSON.stringify({ type: 'ping' })), { binary: true });
  const err = await ws.next((f) => f.type === 'error' || f.type === 'pong');
  assert.deepEqual(pick(err, ['type', 'code']), { type: 'error', code: 'invalid_argument' }, JSON.stringify(err));
  ws.sendRaw(Buffer.from([0, 1, 2, 255]), { binary: true });
  assert.equal((await ws.next((f) => f.type === 'error' || f.type === 'pong')).type, 'error');
  await ws.ping();
  const ack = await wsSend(ws, { to_user: b.user_id }, 'still works');
  assert.equal(ack.type, 'ack');
  await ws.close();
});

test('a frame of exactly 64 KiB is accepted; one byte more closes with 4009, that connection only', async () => {
  const victim = await openWs(server, a.token);
  const sibling = await openWs(server, a.token);
  const other = await openWs(server, b.token);

  const frameOf = (size) => {
    const head = '{"type":"ping","pad":"';
    const tail = '"}';
    return head + 'p'.repeat(size - head.length - tail.length) + tail;
  };
  const exact = frameOf(64 * 1024);
  assert.equal(Buffer.byteLength(exact), 65536);
  victim.sendRaw(exact);
  assert.equal((await victim.next((f) => f.type === 'pong' || f.type === 'error')).type, 'pong',
    'a 65536-byte frame is within the limit');

  victim.sendRaw(frameOf(64 * 1024 + 1));
  const { code } = await withTimeout(victim.closed, DEFAULT_TIMEOUT_MS, 'the oversized frame to close the socket');
  assert.equal(code, 4009);

  await sibling.ping();
  await other.ping();
  const ack = await wsSend(other, { to_user: a.user_id }, 'you there?');
  assert.equal((await sibling.next({ type: 'msg', id: ack.id })).body, 'you there?');
  await Promise.all([sibling.close(), other.close()]);
});

test('a much larger frame (1 MiB) also closes with 4009', async () => {
  const ws = await openWs(server, a.token);
  ws.sendRaw(JSON.stringify({ type: 'send', id: 'huge', to_user: b.user_id, body: 'h'.repeat(1 << 20) }));
  const { code } = await withTimeout(ws.closed, DEFAULT_TIMEOUT_MS, 'close');
  assert.equal(code, 4009);
  assert.deepEqual((await fullHistory(base, a.token, privateConv(a.user_id, b.user_id))).filter((m) => m.id === 'huge'), []);
});

test('a text frame with invalid UTF-8 closes that connection only', async () => {
  const victim = await openWs(server, a.token);
  const sibling = await openWs(server, a.token);
  const other = await openWs(server, b.token);

  victim.sendRaw(Buffer.concat([Buffer.from('{"type":"ping","x":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]), { binary: false });
  const closed = await withTimeout(victim.closed, DEFAULT_TIMEOUT_MS, 'the invalid UTF-8 frame to close the socket');
  assert.notEqual(closed.code, 1000, 'not a normal closure');
  assert.ok(!victim.all.some((f) => f.type === 'pong'), 'the frame was not acted on');

  await sibling.ping();
  await other.ping();
  const ack = await wsSend(sibling, { to_user: b.user_id }, 'unaffected');
  assert.equal((await other.next({ type: 'msg', id: ack.id })).body, 'unaffected');
  await Promise.all([sibling.close(), other.close()]);
});

test('many bad frames in a row do not close the connection', async () => {
  const ws = await openWs(server, a.token);
  for (let i = 0; i < 100; i++) ws.sendRaw(`garbage ${i}`);
  for (let i = 0; i < 100; i++) assert.equal((await ws.next({ type: 'error' })).code, 'invalid_argument');
  await ws.ping();
  await ws.close();
});

test('sync and read seqs and limits outside 0 to 2^53-1 get invalid_argument', async () => {
  const conv = privateConv(a.user_id, b.user_id);
  const ws = await openWs(server, a.token);
  await wsSend(ws, { to_user: b.user_id }, 'seq range');
  for (const raw of [
    `{"type":"sync","conv":"${conv}","after_seq":9007199254740992}`,
    `{"type":"sync","conv":"${conv}","after_seq":18446744073709551615}`,
    `{"type":"sync","conv":"${conv}","after_seq":1e300}`,
    `{"type":"sync","conv":"${conv}","after_seq":0,"limit":9007199254740993}`,
    `{"type":"sync","conv":"${conv}","after_seq":0,"limit":18446744073709551617}`,
    `{"type":"read","conv":"${conv}","seq":9007199254740992}`,
    `{"type":"read","conv":"${conv}","seq":18446744073709551615}`,
  ]) {
    await expectError(ws, raw);
  }
  ws.send({ type: 'sync', conv, after_seq: 9007199254740991 });
  const page = await ws.next({ type: 'sync' });
  assert.deepEqual(page.messages, []);
  assert.equal(page.has_more, false);
  await ws.close();
});
