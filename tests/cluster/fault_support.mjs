// Fault tests' clients and bookkeeping: users who send under load, reconnect
// and sync exactly as docs/wire-protocol.md prescribes, and the checks that
// every acknowledged message is seen exactly once, in seq order, by every
// participant and in the history.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  startParley, WebSocket, api, newUser, createGroup, privateConv, fullHistory, sleep,
  DEFAULT_TIMEOUT_MS, TIMEOUT_SCALE,
} from '../support/parley_server.mjs';

export const RECOVERY_TIMEOUT_MS = 90_000 * TIMEOUT_SCALE;
const ACK_RESEND_MS = 3000; // a send without an answer this long is sent again, same id
const SYNC_RETRY_MS = 3000;
const HELLO_TIMEOUT_MS = 5000;
// Codes after which a send is retried with the same id; anything else is a bug.
const RETRYABLE = new Set(['unavailable', 'internal', 'rate_limited', 'deadline_exceeded']);

// A cluster of 2 processes per role (the launcher's default).
export function startCluster(options = {}) {
  return startParley({ ...options, cluster: true });
}

// Rows of MariaDB's `messages` for `convs`: {conv: [{seq, msg_id, id}]},
// read with the mariadb client over the cluster's socket as Parley's account.
export async function persistedMessages(server, convs) {
  for (const c of convs) assert.match(c, /^[pg]:[0-9:]+$/);
  const info = server.clusterInfo();
  const db = info.processes.find((p) => p.role === 'mariadb');
  const password = fs.readFileSync(path.join(info.data_dir, 'mysql-password'), 'utf8').trim();
  const sql = `SELECT conv, seq, msg_id, client_id FROM messages WHERE conv IN (${convs.map((c) => `'${c}'`).join(',')}) ORDER BY conv, seq`;
  const { stdout } = await promisify(execFile)('mariadb',
    ['--no-defaults', '--protocol=socket', '-S', db.socket, '-u', 'parley', '-N', '-B', 'parley', '-e', sql],
    { env: { ...process.env, MYSQL_PWD: password } });
  const out = Object.fromEntries(convs.map((c) => [c, []]));
  for (const line of stdout.split('\n')) {
    if (!line) continue;
    const [conv, seq, msgId, id] = line.split('\t');
    out[conv].push({ seq: Number(seq), msg_id: msgId, id });
  }
  return out;
}

// One user's connection. Keeps, per conversation, the messages it has seen in
// seq order (from pushes, sync answers and its own acks), syncs on hello and
// on any gap, reconnects through /api/v1/endpoints when its connection
// drops, and resends every unacknowledged send with the same id.
export class SyncingClient {
  constructor(user, { base, label }) {
    this.user = user;
    this.base = base; // () => the cluster's current base URL
    this.label = label;
    this.views = new Map(); // conv -> {high, msgs[seq-1]}
    this.unacked = new Map(); // id -> {frame, sentAt, retryAt}
    this.acks = new Map(); // id -> ack frame
    this.syncing = new Map(); // conv -> when the sync was sent
    this.violations = [];
    this.ws = null;
    this.connected = false;
    this.stopped = false;
    this.reconnecting = null;
    this.reconnects = 0;
    this.retries = 0;
    this.duplicatesIgnored = 0;
    this.attempt = 0;
    this.timer = setInterval(() => this.tick(), 100);
  }

  violation(what) {
    this.violations.push(`${this.label}: ${what}`);
  }

  view(conv) {
    let v = this.views.get(conv);
    if (!v) {
      v = { high: 0, msgs: [] };
      this.views.set(conv, v);
    }
    return v;
  }

  // Connects to `url` (or an endpoint from the api) and waits for hello.
  async connect(url) {
    const target = url ?? await this.endpoint();
    const ws = new WebSocket(target, {
      headers: { Authorization: `Bearer ${this.user.token}` },
      handshakeTimeout: HELLO_TIMEOUT_MS,
    });
    const hello = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`no hello from ${target}`));
      }, HELLO_TIMEOUT_MS);
      ws.once('unexpected-response', (req, res) => {
        clearTimeout(timer);
        req.destroy();
        reject(new Error(`upgrade refused with HTTP ${res.statusCode} by ${target}`));
      });
      ws.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      ws.once('close', () => {
        clearTimeout(timer);
        reject(new Error(`closed before hello by ${target}`));
      });
      ws.once('message', (data) => {
        clearTimeout(timer);
        try {
          resolve(JSON.parse(data.toString()));
        } catch (err) {
          reject(err);
        }
      });
    });
    assert.equal(hello.type, 'hello', JSON.stringify(hello));
    ws.removeAllListeners();
    ws.on('error', () => { /* reported through close */ });
    ws.on('message', (data) => this.onFrame(JSON.parse(data.toString())));
    ws.on('close', () => this.onClose(ws));
    this.ws = ws;
    this.url = target;
    this.connected = true;
    this.syncing.clear();
    for (const c of hello.convs) {
      if (c.last_seq > this.view(c.conv).high) this.sync(c.conv);
    }
    for (const u of this.unacked.values()) this.transmit(u);
  }

  // The WebSocket URL to use: the api's list, least loaded first, rotating
  // on failures.
  async endpoint() {
    const res = await api(this.base(), 'GET', '/api/v1/endpoints');
    if (res.status !== 200 || !res.json?.websocket?.length) {
      throw new Error(`endpoints: ${res.status} ${res.text}`);
    }
    const list = res.json.websocket;
    return list[this.attempt % list.length];
  }

  onClose(ws) {
    if (ws !== this.ws) return;
    this.ws = null;
    this.connected = false;
    if (!this.stopped) this.reconnect();
  }

  reconnect() {
    if (this.reconnecting) return this.reconnecting;
    this.reconnecting = (async () => {
      let delay = 50;
      while (!this.stopped) {
        try {
          await this.connect();
          this.reconnects++;
          this.attempt = 0;
          break;
        } catch {
          this.attempt++;
          await sleep(delay);
          delay = Math.min(delay * 2, 500);
        }
      }
      this.reconnecting = null;
    })();
    return this.reconnecting;
  }

  send(to, body, id) {
    const u = { frame: { type: 'send', id, ...to, body }, sentAt: 0, retryAt: 0, firstSentAt: Date.now() };
    this.unacked.set(id, u);
    this.transmit(u);
    return id;
  }

  transmit(u) {
    u.sentAt = Date.now();
    u.retryAt = 0;
    if (this.connected) this.ws.send(JSON.stringify(u.frame));
  }

  sync(conv) {
    if (!this.connected || this.syncing.has(conv)) return;
    this.syncing.set(conv, Date.now());
    this.ws.send(JSON.stringify({ type: 'sync', conv, after_seq: this.view(conv).high, limit: 200 }));
  }

  // Resends what went unanswered, and syncs that got no answer.
  tick() {
    if (!this.connected) return;
    const now = Date.now();
    for (const u of this.unacked.values()) {
      if ((u.retryAt && now >= u.retryAt) || (!u.retryAt && now - u.sentAt > ACK_RESEND_MS)) {
        this.retries++;
        this.transmit(u);
      }
    }
    for (const [conv, at] of this.syncing) {
      if (now - at > SYNC_RETRY_MS) {
        this.syncing.delete(conv);
        this.sync(conv);
      }
    }
  }

  // Takes `m` into its conversation's view; false when it leaves a gap.
  accept(m) {
    const v = this.view(m.conv);
    if (m.seq <= v.high) {
      const have = v.msgs[m.seq - 1];
      if (have.msg_id !== m.msg_id || have.id !== m.id) {
        this.violation(`seq ${m.seq} of ${m.conv} is ${JSON.stringify(have)} and now ${JSON.stringify(m)}`);
      }
      this.duplicatesIgnored++;
      return true;
    }
    if (m.seq !== v.high + 1) return false;
    v.msgs.push({ msg_id: m.msg_id, id: m.id, seq: m.seq, from: m.from });
    v.high = m.seq;
    return true;
  }

  onFrame(f) {
    switch (f.type) {
      case 'ack': {
        const first = this.acks.get(f.id);
        if (first) {
          if (first.msg_id !== f.msg_id || first.seq !== f.seq || first.conv !== f.conv || first.ts !== f.ts) {
            this.violation(`two acks for ${f.id}: ${JSON.stringify(first)} then ${JSON.stringify(f)}`);
          }
        } else {
          this.acks.set(f.id, f);
        }
        this.unacked.delete(f.id);
        // The sender sees its own message through its ack.
        if (!this.accept({ ...f, from: this.user.user_id })) this.sync(f.conv);
        break;
      }
      case 'error': {
        const u = f.id !== undefined ? this.unacked.get(f.id) : undefined;
        if (u && RETRYABLE.has(f.code)) {
          u.retryAt = Date.now() + Math.min(f.retry_after_ms ?? 200, 2000);
        } else if (!u && f.id === undefined && RETRYABLE.has(f.code)) {
          // A sync that failed (e.g. unavailable while the store catches
          // up): the tick asks again once SYNC_RETRY_MS has passed.
          for (const conv of this.syncing.keys()) this.syncing.set(conv, 0);
        } else if (!u && this.acks.has(f.id)) {
          // an error for a resend whose ack already came: harmless
        } else {
          this.violation(`error frame ${JSON.stringify(f)}`);
        }
        break;
      }
      case 'msg':
        if (!this.accept(f)) this.sync(f.conv);
        break;
      case 'sync': {
        this.syncing.delete(f.conv);
        for (const m of f.messages) {
          if (!this.accept(m)) {
            this.violation(`sync of ${f.conv} after ${this.view(f.conv).high} skipped to seq ${m.seq}`);
            break;
          }
        }
        if (f.has_more) this.sync(f.conv);
        break;
      }
      default:
        break;
    }
  }

  async close() {
    this.stopped = true;
    clearInterval(this.timer);
    if (this.reconnecting) await this.reconnecting;
    const ws = this.ws;
    this.ws = null;
    this.connected = false;
    if (ws && ws.readyState === WebSocket.OPEN) {
      ws.close();
      await new Promise((resolve) => ws.once('close', resolve));
    }
  }
}

// Users sending to each other at a steady rate: `pairs` private
// conversations (a_i -> b_i) and one group whose first member sends.
export class Workload {
  constructor(server, { pairs = 4, groupSize = 3, intervalMs = 40, window = 8, firstUrl } = {}) {
    this.server = server;
    this.opts = { pairs, groupSize, intervalMs, window };
    this.firstUrl = firstUrl ?? (() => server.wsUrl);
    this.convs = []; // {conv, sender, participants, to}
    this.clients = [];
    this.timers = [];
    this.counter = 0;
    this.sent = 0;
  }

  async setup() {
    const base = this.server.baseUrl;
    const baseFn = () => this.server.baseUrl;
    const client = (user, label) => {
      const c = new SyncingClient(user, { base: baseFn, label });
      this.clients.push(c);
      return c;
    };
    for (let i = 0; i < this.opts.pairs; i++) {
      const a = client(await newUser(base, `fa${i}`), `a${i}`);
      const b = client(await newUser(base, `fb${i}`), `b${i}`);
      this.convs.push({ conv: privateConv(a.user.user_id, b.user.user_id), sender: a, participants: [a, b],
        to: { to_user: b.user.user_id } });
    }
    const members = [];
    for (let i = 0; i < this.opts.groupSize; i++) members.push(client(await newUser(base, `fg${i}`), `g${i}`));
    const g = await createGroup(base, members[0].user.token, 'fault group', members.slice(1).map((m) => m.user.user_id));
    this.convs.push({ conv: `g:${g.group_id}`, sender: members[0], participants: members, to: { to_group: g.group_id } });
    await Promise.all(this.clients.map((c, i) => c.connect(this.firstUrl(i, c))));
  }

  start() {
    for (const c of this.convs) {
      this.timers.push(setInterval(() => {
        if (c.sender.unacked.size >= this.opts.window) return;
        const n = this.counter++;
        c.sender.send(c.to, `load ${n}`, `L-${c.sender.label}-${n}`);
        this.sent++;
      }, this.opts.intervalMs));
    }
  }

  stopLoad() {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }

  // Waits for full service after a fault at `t0`: every client connected, a
  // new message in every conversation acknowledged and seen by all of its
  // participants. Prints and returns recovery_ms, and how much of it the
  // fault itself took (e.g. the launcher restarting a server: fault_ms).
  async recovered(t0, what) {
    console.log(`fault_ms=${Date.now() - t0} fault="${what}"`);
    const probes = this.convs.map((c, i) => ({ c, id: c.sender.send(c.to, `probe ${i}`, `P-${Date.now()}-${i}`) }));
    const deadline = Date.now() + RECOVERY_TIMEOUT_MS;
    for (;;) {
      const pending = probes.filter(({ c, id }) => {
        const ack = c.sender.acks.get(id);
        return !ack || !c.participants.every((p) => p.view(c.conv).high >= ack.seq);
      });
      const down = this.clients.filter((c) => !c.connected);
      if (pending.length === 0 && down.length === 0) break;
      if (Date.now() > deadline) {
        throw new Error(`no full service ${RECOVERY_TIMEOUT_MS} ms after ${what}: ` +
          `${down.length} clients disconnected, probes pending in ${pending.map((p) => p.c.conv).join(' ')}; ` +
          `${this.describe()}\n${this.server.logs()}`);
      }
      await sleep(10);
    }
    const ms = Date.now() - t0;
    console.log(`recovery_ms=${ms} fault="${what}"`);
    return ms;
  }

  describe() {
    return this.clients.map((c) => `${c.label}: connected=${c.connected} unacked=${c.unacked.size} ` +
      `reconnects=${c.reconnects} retries=${c.retries} views=${[...c.views].map(([k, v]) => `${k}@${v.high}`).join(',')}`)
      .join('; ');
  }

  // Stops the load, waits until every send is acknowledged and every
  // participant has every message, then checks each view and the history.
  async finish() {
    this.stopLoad();
    const deadline = Date.now() + RECOVERY_TIMEOUT_MS;
    const done = () => this.convs.every((c) => {
      if (c.sender.unacked.size > 0) return false;
      const last = this.ackedIn(c).length;
      return c.participants.every((p) => p.view(c.conv).high >= last);
    });
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`not caught up: ${this.describe()}\n${this.server.logs()}`);
      await sleep(20);
    }
    let acked = 0;
    for (const c of this.convs) {
      const acks = this.ackedIn(c);
      acked += acks.length;
      const n = acks.length;
      assert.deepEqual(acks.map((a) => a.seq), Array.from({ length: n }, (_, i) => i + 1),
        `${c.conv}: acknowledged seqs are 1..${n}, each once`);
      const expected = acks.map((a) => ({ seq: a.seq, msg_id: a.msg_id, id: a.id }));
      for (const p of c.participants) {
        const v = p.view(c.conv);
        assert.equal(v.high, n, `${p.label} saw ${v.high} of ${n} in ${c.conv}`);
        assert.deepEqual(v.msgs.map((m) => ({ seq: m.seq, msg_id: m.msg_id, id: m.id })), expected,
          `${p.label}: every acknowledged message of ${c.conv} once, in seq order`);
      }
      const history = await fullHistory(this.server.baseUrl, c.sender.user.token, c.conv);
      assert.deepEqual(history.map((m) => ({ seq: m.seq, msg_id: m.msg_id, id: m.id })), expected,
        `${c.conv}: the history holds every acknowledged message once, in seq order`);
    }
    // Persisted too: the persist group has written every acknowledged
    // message to MariaDB once, whatever the fault did to its consumers.
    const started = Date.now();
    const want = Object.fromEntries(this.convs.map((c) => [c.conv,
      this.ackedIn(c).map((a) => ({ seq: a.seq, msg_id: a.msg_id, id: a.id }))]));
    let rows;
    for (;;) {
      rows = await persistedMessages(this.server, this.convs.map((c) => c.conv));
      if (this.convs.every((c) => rows[c.conv].length >= want[c.conv].length)) break;
      if (Date.now() - started > RECOVERY_TIMEOUT_MS) break;
      await sleep(100);
    }
    assert.deepEqual(rows, want, 'MariaDB holds every acknowledged message once');
    console.log(`persisted_after_ms=${Date.now() - started}`);
    const violations = this.clients.flatMap((c) => c.violations);
    assert.deepEqual(violations, [], 'no client saw a conflicting message or an unexpected error');
    const stats = {
      acked,
      reconnects: this.clients.reduce((s, c) => s + c.reconnects, 0),
      resends: this.clients.reduce((s, c) => s + c.retries, 0),
      duplicates_ignored: this.clients.reduce((s, c) => s + c.duplicatesIgnored, 0),
    };
    console.log(`workload ${JSON.stringify(stats)}`);
    return stats;
  }

  // The acks of conversation `c`, by seq.
  ackedIn(c) {
    return [...c.sender.acks.values()].filter((a) => a.conv === c.conv).sort((x, y) => x.seq - y.seq);
  }

  async close() {
    this.stopLoad();
    await Promise.all(this.clients.map((c) => c.close()));
  }
}

// Runs `fault` (which returns the time it struck) in the middle of a load,
// then measures recovery and checks every message.
export async function underLoad(server, fault, { what, warmupMs = 1500, afterMs = 1500, workload = {} } = {}) {
  const w = new Workload(server, workload);
  try {
    await w.setup();
    w.start();
    await sleep(warmupMs);
    const before = w.sent;
    assert.ok(before > 0, 'the load is running');
    const t0 = await fault(w);
    const recoveryMs = await w.recovered(t0, what);
    await sleep(afterMs);
    const stats = await w.finish();
    return { recoveryMs, stats, workload: w };
  } finally {
    await w.close();
  }
}

export { DEFAULT_TIMEOUT_MS, sleep };
