// Operations: health and readiness probes, Prometheus metrics on the admin
// port only, the endpoints list, and graceful shutdown (SIGTERM: WebSockets
// closed with 1001, nothing acked is lost, exit code 0).
//
// Against a cluster (PARLEY_CLUSTER=1) every Parley process has its own
// /metrics, /healthz and /readyz: the tests read each, and add the samples
// up as a Prometheus `sum` over instances would.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import {
  CLUSTER, startParley, api, newUser, openWs, wsSend, httpSend, WsClient, privateConv, fullHistory, withTimeout,
  DEFAULT_TIMEOUT_MS, sleep, eventually, TIMEOUT_SCALE,
} from '../support/parley_server.mjs';

// Parses the Prometheus text format into {name{labels}: value}, checking
// every line's syntax on the way.
function parseMetrics(text) {
  const values = new Map();
  const types = new Map();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
      assert.ok(m, `bad comment line: ${line}`);
      if (m[1] === 'TYPE') {
        assert.match(m[3], /^(counter|gauge|histogram|summary|untyped)$/, line);
        types.set(m[2], m[3]);
      }
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)(?: -?\d+)?$/.exec(line);
    assert.ok(m, `bad sample line: ${line}`);
    const v = Number(m[2] === '+Inf' ? Infinity : m[2]);
    assert.ok(!Number.isNaN(v) || m[2] === 'NaN', `bad value in: ${line}`);
    values.set(m[1], v);
  }
  return { values, types };
}

async function metrics(base) {
  const res = await fetch(`${base}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  return parseMetrics(await res.text());
}

// The server's metrics: one process's, or every cluster process's summed
// sample by sample (counters and gauges add up across processes).
async function serverMetrics(server) {
  const urls = server.metricsUrls();
  assert.ok(urls.length > 0, 'the server has an admin port');
  const all = { values: new Map(), types: new Map() };
  for (const one of await Promise.all(urls.map(metrics))) {
    for (const [k, v] of one.values) all.values.set(k, (all.values.get(k) ?? 0) + v);
    for (const [k, v] of one.types) all.types.set(k, v);
  }
  return all;
}

test('healthz and readyz answer 200', async (t) => {
  const server = await startParley();
  t.after(() => server.dispose());
  for (const path of ['/healthz', '/readyz']) {
    const res = await fetch(server.baseUrl + path);
    assert.equal(res.status, 200, `${path}: ${await res.text()}`);
  }
});

test('the client port has no /metrics; the admin port has /metrics, /readyz and /healthz', async (t) => {
  const server = await startParley();
  t.after(() => server.dispose());
  if (!CLUSTER) {
    assert.match(server.adminUrl, /^http:\/\/127\.0\.0\.1:\d+$/, 'parley serve prints its admin address');
  }
  const adminUrls = server.metricsUrls();
  assert.equal(adminUrls.length, CLUSTER ? 8 : 1, 'every process has an admin port');
  const pub = await fetch(`${server.baseUrl}/metrics`);
  assert.equal(pub.status, 404);
  assert.doesNotMatch(await pub.text(), /parley_/);
  for (const adminUrl of adminUrls) {
    assert.notEqual(adminUrl, server.baseUrl);
    await metrics(adminUrl);
    for (const path of ['/healthz', '/readyz']) {
      const res = await fetch(adminUrl + path);
      assert.equal(res.status, 200, `admin ${adminUrl}${path}: ${await res.text()}`);
    }
    // The admin port is no client port.
    assert.equal((await fetch(`${adminUrl}/api/v1/endpoints`)).status, 404, adminUrl);
  }
});

test('admin_listen "" turns the admin port off', {
  skip: CLUSTER && 'the cluster launcher gives every process its own admin address',
}, async (t) => {
  const off = await startParley({ config: { admin_listen: '' } });
  t.after(() => off.dispose());
  assert.equal(off.adminUrl, '');
  assert.match(off.stdout.text, /admin endpoints off/);
});

test('admin_token guards every admin port', async (t) => {
  const guarded = await startParley({ config: { admin_token: 'tok-3f9a' } });
  t.after(() => guarded.dispose());
  for (const adminUrl of guarded.metricsUrls()) {
    const res = await fetch(`${adminUrl}/metrics`);
    assert.equal(res.status, 401, adminUrl);
    const ok = await fetch(`${adminUrl}/metrics`, { headers: { Authorization: 'Bearer tok-3f9a' } });
    assert.equal(ok.status, 200, adminUrl);
  }
});

test('metrics are Prometheus text and count what happened', async (t) => {
  const server = await startParley();
  t.after(() => server.dispose());
  const base = server.baseUrl;
  const before = await serverMetrics(server);
  assert.equal(before.types.get('parley_messages_accepted_total'), 'counter');
  assert.equal(before.types.get('parley_ws_connections'), 'gauge');
  assert.equal(before.types.get('parley_send_latency_seconds'), 'histogram');
  assert.equal(before.values.get('parley_messages_accepted_total'), 0);
  assert.equal(before.values.get('parley_ws_connections'), 0);

  const a = await newUser(base, 'metA');
  const b = await newUser(base, 'metB');
  const wa = await openWs(server, a.token);
  const wb = await openWs(server, b.token);
  const ack = await wsSend(wa, { to_user: b.user_id }, 'one');
  await wsSend(wa, { to_user: b.user_id }, 'one again', ack.id); // a duplicate
  await httpSend(base, b.token, { to_user: a.user_id }, 'two');
  await wb.next({ type: 'msg', id: ack.id });

  const now = await serverMetrics(server);
  // The resend may or may not count as an acknowledged send; it is a duplicate.
  const accepted = now.values.get('parley_messages_accepted_total');
  assert.ok(accepted === 2 || accepted === 3, `accepted ${accepted}`);
  assert.equal(now.values.get('parley_messages_duplicate_total'), 1);
  assert.equal(now.values.get('parley_registrations_total') - (before.values.get('parley_registrations_total') ?? 0), 2);
  assert.equal(now.values.get('parley_logins_total') - (before.values.get('parley_logins_total') ?? 0), 2);
  assert.equal(now.values.get('parley_ws_connections'), 2);
  assert.ok(now.values.get('parley_send_latency_seconds_count') >= 2);
  assert.ok(now.values.get('parley_http_requests_total') > before.values.get('parley_http_requests_total'));
  await wa.close();
  await wb.close();
});

test('endpoints lists the WebSocket URLs of the live connect nodes, and each works', async (t) => {
  const server = await startParley();
  t.after(() => server.dispose());
  const res = await api(server.baseUrl, 'GET', '/api/v1/endpoints');
  assert.equal(res.status, 200, res.text);
  if (CLUSTER) {
    // The live connect nodes' public URLs, each once: the launcher's connect
    // nodes all advertise the api's /ws proxy on the public port.
    const urls = res.json.websocket;
    assert.deepEqual(urls, [`ws://127.0.0.1:${server.port}/ws`], res.text);
  } else {
    assert.deepEqual(res.json.websocket, [`ws://127.0.0.1:${server.port}/ws`]);
  }
  const u = await newUser(server.baseUrl, 'ep');
  for (const url of res.json.websocket) {
    const ws = await WsClient.connect(url, { token: u.token });
    assert.equal((await ws.next({ type: 'hello' })).user_id, u.user_id);
    await ws.close();
  }
});

test('a plain GET /ws that is no upgrade is refused with the JSON error body', async (t) => {
  const server = await startParley();
  t.after(() => server.dispose());
  const res = await fetch(`${server.baseUrl}/ws`); // not an upgrade request
  assert.ok(res.status >= 400 && res.status < 500, `plain GET /ws: ${res.status}`);
  const body = await res.json();
  assert.equal(typeof body.error?.code, 'string');
});

test('SIGTERM closes WebSockets with 1001, keeps every acked message, and exits 0', async (t) => {
  const server = await startParley();
  t.after(() => server.dispose());
  const base = server.baseUrl;
  const a = await newUser(base, 'termA');
  const b = await newUser(base, 'termB');
  const wa = await openWs(server, a.token);
  const wb1 = await openWs(server, b.token);
  const wb2 = await openWs(server, b.token);

  const n = 50;
  for (let i = 0; i < n; i++) wa.send({ type: 'send', id: `t-${i}`, to_user: b.user_id, body: `t${i}` });
  const acks = [];
  for (let i = 0; i < n; i++) acks.push(await wa.next({ type: 'ack', id: `t-${i}` }));

  const stopping = server.stop(); // asserts exit code 0
  for (const ws of [wa, wb1, wb2]) {
    const { code } = await withTimeout(ws.closed, DEFAULT_TIMEOUT_MS, 'the socket to be closed on SIGTERM');
    assert.equal(code, 1001, 'going away: reconnect elsewhere');
  }
  await stopping;

  await server.start();
  const history = await fullHistory(server.baseUrl, b.token, privateConv(a.user_id, b.user_id));
  assert.deepEqual(history.map((m) => [m.seq, m.msg_id]), acks.map((x) => [x.seq, x.msg_id]));
});

test('SIGTERM with no clients exits 0 promptly, and a restart on the same data works', async (t) => {
  const server = await startParley();
  t.after(() => server.dispose());
  const u = await newUser(server.baseUrl, 'quiet');
  const started = Date.now();
  await server.stop();
  assert.ok(Date.now() - started < 10_000 * Number(process.env.PARLEY_TEST_TIMEOUT_SCALE || 1),
    `shutdown took ${Date.now() - started} ms`);
  await server.start();
  const me = await api(server.baseUrl, 'GET', '/api/v1/users/me', undefined, u.token);
  assert.equal(me.status, 200, me.text);
});

// Upgrades a raw TCP connection to a WebSocket and then never answers
// anything: a client whose network died without a FIN.
async function silentClient(port, token) {
  const sock = net.connect(port, '127.0.0.1');
  await new Promise((resolve, reject) => { sock.once('connect', resolve); sock.once('error', reject); });
  sock.write(`GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n` +
    `Authorization: Bearer ${token}\r\n\r\n`);
  let head = '';
  await new Promise((resolve, reject) => {
    const onData = (d) => {
      head += d.toString('latin1');
      if (head.includes('\r\n\r\n')) { sock.off('data', onData); resolve(); }
    };
    sock.on('data', onData);
    sock.once('error', reject);
  });
  assert.match(head, /^HTTP\/1\.1 101/);
  sock.on('data', () => {}); // read and ignore: hello, pings
  const closed = new Promise((resolve) => sock.once('close', resolve));
  sock.on('error', () => {});
  return { sock, closed };
}

test('heartbeats: a client that answers pings stays; a silent one is dropped and goes offline', async (t) => {
  const idle = 1500;
  // Polled lookups: past the per-user lookup limit they would be refused.
  const server = await startParley({ config: { conn: { idle_timeout_ms: idle }, rate: { user_lookups_burst: 100000 } } });
  t.after(() => server.dispose());
  const base = server.baseUrl;
  const watcher = await newUser(base, 'hbW');
  const live = await newUser(base, 'hbL');
  const silent = await newUser(base, 'hbS');
  // Online state is shown to users who share a conversation (issue 10).
  for (const u of [live, silent]) {
    const sent = await api(base, 'POST', '/api/v1/messages', { id: `hb-${u.user_id}`, to_user: u.user_id, body: 'hi' }, watcher.token);
    assert.equal(sent.status, 200, sent.text);
  }
  const online = async (u) => (await api(base, 'GET', `/api/v1/users?username=${u.username}`, undefined, watcher.token)).json.online;

  const ws = await openWs(server, live.token); // the ws library answers pings by itself
  const raw = await silentClient(server.port, silent.token);
  assert.equal(await online(silent), true);

  const started = Date.now();
  await withTimeout(raw.closed, (idle * 4) * TIMEOUT_SCALE + 5000, 'the silent client to be dropped');
  assert.ok(Date.now() - started >= idle * 0.5, `dropped too early: ${Date.now() - started} ms`);
  await eventually(async () => (await online(silent)) === false, { what: 'the silent user to go offline' });

  await sleep(Math.max(0, idle * 3 - (Date.now() - started)));
  await ws.ping();
  assert.equal(ws.closeInfo, null, 'the answering client is still connected');
  assert.equal(await online(live), true);
  await ws.close();
});
