// Harness for the end-to-end tests: runs the real `parley` binary on a free
// loopback port with its own temporary data directory, and gives the tests
// small clients for its HTTP API and its WebSocket.
//
// With PARLEY_CLUSTER=1 in the environment, the same interface runs a whole
// cluster instead (scripts/cluster.sh run: redis-server, mariadbd, etcd and
// api/logic/task/connect processes) on the same kind of temp data dir, so
// that every test runs unchanged against it; PARLEY_CLUSTER_ARGS adds
// launcher flags (e.g. "--api 1 --connect 3").
//
// Every server started here is killed, and its temp dirs removed, when the
// test process exits, even if a test failed before calling stop().

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

export { WebSocket };

// Sanitizer builds run several times slower; every timeout is multiplied.
export const TIMEOUT_SCALE = Number(process.env.PARLEY_TEST_TIMEOUT_SCALE || 1);
export const DEFAULT_TIMEOUT_MS = 15_000 * TIMEOUT_SCALE;
const START_TIMEOUT_MS = 30_000 * TIMEOUT_SCALE;
const STOP_TIMEOUT_MS = 30_000 * TIMEOUT_SCALE;

// The binary under test comes from the build that runs the test: CTest sets
// PARLEY_BIN (tests/e2e/ and tests/browser/CMakeLists.txt; bench/smoke.sh
// takes the binaries as arguments instead). A default path would silently
// test some other build.
export function parleyBin() {
  const bin = process.env.PARLEY_BIN;
  if (!bin) {
    throw new Error('PARLEY_BIN is not set: run the tests through ctest (make test), ' +
      'or set PARLEY_BIN to the parley binary, e.g. PARLEY_BIN=build/src/app/parley');
  }
  return bin;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Cluster mode: the launcher runs instead of `parley serve`.
export const CLUSTER = process.env.PARLEY_CLUSTER === '1';
export const CLUSTER_SCRIPT = path.resolve(path.dirname(fileURLToPath(import.meta.url)),
  '../../scripts/cluster.sh');
// A cluster starts three servers and eight processes (mariadb-install-db on
// the first start): more time than one process needs.
const CLUSTER_START_TIMEOUT_MS = 120_000 * TIMEOUT_SCALE;
const CLUSTER_STOP_TIMEOUT_MS = 90_000 * TIMEOUT_SCALE;

// A TCP port on 127.0.0.1 that was free a moment ago (the kernel's choice).
export async function freePort() {
  const srv = net.createServer();
  await new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', resolve);
  });
  const { port } = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

// True while some process other than a zombie is in process group `pgid`.
function groupAlive(pgid) {
  let entries;
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return false;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    let stat;
    try {
      stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
    } catch {
      continue;
    }
    // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid && fields[0] !== 'Z') return true;
  }
  return false;
}

function killGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    /* already gone */
  }
}

// ---------------------------------------------------------------------------
// Process lifetime: children and temp dirs that must not outlive the test.

const liveProcs = new Set();
const tempDirs = new Set();

function cleanupSync() {
  for (const p of liveProcs) {
    try {
      // A cluster launcher leads its own process group: take all of it.
      if (p.parleyGroup) killGroup(p.pid, 'SIGKILL');
      else p.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
  liveProcs.clear();
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
  tempDirs.clear();
}
process.on('exit', cleanupSync);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => {
    cleanupSync();
    process.exit(128 + os.constants.signals[sig]);
  });
}

export async function makeTempDir(prefix = 'parley-e2e-') {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

// Keeps the last `max` characters of a stream, for failure messages.
class Tail {
  constructor(max = 64 * 1024) {
    this.max = max;
    this.text = '';
  }
  push(chunk) {
    this.text += chunk;
    if (this.text.length > this.max) this.text = this.text.slice(-this.max);
  }
}

// ---------------------------------------------------------------------------
// The server.

const SANITIZER_REPORT = /runtime error:|ERROR: (Address|Leak|Thread|Memory)Sanitizer|WARNING: ThreadSanitizer/;

class ParleyServer {
  constructor({ dataDir, configPath, args, bin, cluster = false }) {
    this.dataDir = dataDir;
    this.configPath = configPath;
    this.args = args;
    this.bin = bin;
    this.cluster = cluster;
    this.proc = null;
    this.port = 0;
    this.baseUrl = '';
    this.wsUrl = '';
    this.adminUrl = ''; // /metrics and the detailed /readyz; '' when off or in a cluster
    this.stdout = new Tail();
    this.stderr = new Tail();
    this.exited = null; // Promise<{code, signal}> of the current process
    this.sanitizerReport = null; // first sanitizer report seen on stderr
  }

  // Fails if any run of this server printed a sanitizer report.
  assertNoSanitizerReport() {
    assert.equal(this.sanitizerReport, null, `parley printed a sanitizer report:\n${this.sanitizerReport}`);
  }

  commandLine(port) {
    if (this.cluster) {
      const argv = [CLUSTER_SCRIPT, 'run', '--port', String(port), '--data-dir', this.dataDir,
        '--bin', this.bin, '--password-hash-cost', 'min'];
      if (this.configPath) argv.push('--config', this.configPath);
      const extra = (process.env.PARLEY_CLUSTER_ARGS ?? '').split(/\s+/).filter(Boolean);
      argv.push(...extra, ...this.args);
      return argv;
    }
    const argv = ['serve', '--listen', '127.0.0.1:0', '--data-dir', this.dataDir,
      '--password-hash-cost', 'min'];
    if (this.configPath) argv.push('--config', this.configPath);
    argv.push(...this.args);
    return argv;
  }

  // Recent output of the server, for assertion messages; for a cluster, also
  // the end of every process's log.
  logs() {
    let text = `--- parley stderr (tail) ---\n${this.stderr.text}\n--- parley stdout (tail) ---\n${this.stdout.text}`;
    if (this.cluster) {
      const dir = path.join(this.dataDir, 'logs');
      let names = [];
      try {
        names = fs.readdirSync(dir).filter((n) => n.endsWith('.log')).sort();
      } catch {
        /* not started yet */
      }
      for (const n of names) {
        const lines = fs.readFileSync(path.join(dir, n), 'utf8').split('\n');
        text += `\n--- ${n} (tail) ---\n${lines.slice(-15).join('\n').slice(-3000)}`;
      }
    }
    return text;
  }

  // Cluster mode: D/cluster.json as the launcher keeps it (every process:
  // name, role, node_id, pid, alive, listen, grpc, log, command).
  clusterInfo() {
    assert.ok(this.cluster, 'clusterInfo() needs PARLEY_CLUSTER=1');
    return JSON.parse(fs.readFileSync(path.join(this.dataDir, 'cluster.json'), 'utf8'));
  }

  // Cluster mode: the processes of cluster.json with `role` (all without).
  processes(role) {
    return this.clusterInfo().processes.filter((p) => role === undefined || p.role === role);
  }

  // Cluster mode: `cluster.sh stop|start|restart NAME`, through the running
  // launcher (which keeps the process in its group and cluster.json current).
  async control(verb, name, { signal = 'TERM' } = {}) {
    assert.ok(this.cluster && this.running, 'control() needs a running cluster');
    const proc = spawn('bash', [CLUSTER_SCRIPT, verb, name, '--data-dir', this.dataDir, '--signal', signal],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (d) => { out += d; });
    proc.stderr.on('data', (d) => { out += d; });
    const [code] = await once(proc, 'exit');
    assert.equal(code, 0, `cluster.sh ${verb} ${name}: ${out}\n${this.logs()}`);
    return out.trim();
  }

  // Every base URL that serves /metrics, /healthz and the detailed /readyz:
  // the admin port of `parley serve` (none when it is off); in a cluster,
  // every Parley process's (api and connect: their admin port; logic and
  // task: their only listener), each scraped on its own as Prometheus would.
  metricsUrls() {
    if (!this.cluster) return this.adminUrl ? [this.adminUrl] : [];
    return this.processes()
      .filter((p) => ['api', 'logic', 'task', 'connect'].includes(p.role))
      .map((p) => `http://${p.admin ?? p.listen}`);
  }

  // The pids of the processes that hold client sockets: the server, or a
  // cluster's api and connect processes.
  socketPids() {
    if (!this.cluster) return [this.proc.pid];
    return this.processes().filter((p) => p.role === 'api' || p.role === 'connect').map((p) => p.pid);
  }

  get running() {
    return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  async start() {
    assert.ok(!this.running, 'server already running');
    const argv = this.commandLine(this.cluster ? await freePort() : 0);
    // The launcher gets its own process group (detached), which holds every
    // process of the cluster: kill() takes them all at once.
    const proc = this.cluster
      ? spawn('bash', argv, { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
      : spawn(this.bin, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.parleyGroup = this.cluster;
    this.proc = proc;
    this.expectedExit = false;
    liveProcs.add(proc);
    this.exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        liveProcs.delete(proc);
        resolve({ code, signal });
      });
    });
    proc.stdout.setEncoding('utf8');
    proc.stderr.setEncoding('utf8');
    let carry = '';
    proc.stderr.on('data', (d) => {
      this.stderr.push(d);
      // UBSan may report and carry on with exit code 0: look for reports.
      const window = carry + d;
      const m = SANITIZER_REPORT.exec(window);
      if (m && this.sanitizerReport === null) this.sanitizerReport = window.slice(m.index, m.index + 2000);
      carry = window.slice(-200);
    });

    const ready = new Promise((resolve, reject) => {
      let line = '';
      const onData = (d) => {
        this.stdout.push(d);
        line += d;
        const m = (this.cluster ? /cluster listening on 127\.0\.0\.1:(\d+)/
          : /parley listening on 127\.0\.0\.1:(\d+)/).exec(line);
        if (m) {
          // `parley serve` prints where its admin port is before that line.
          const admin = /parley admin [^\n]* on (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
          this.adminUrl = admin ? admin[1] : '';
          proc.stdout.off('data', onData);
          proc.stdout.on('data', (more) => this.stdout.push(more));
          resolve(Number(m[1]));
        }
      };
      proc.stdout.on('data', onData);
      proc.once('error', (err) => reject(new Error(`cannot run ${this.bin}: ${err.message}`)));
      this.exited.then(({ code, signal }) =>
        reject(new Error(`parley exited before listening (code ${code}, signal ${signal})\n` +
          `command: ${this.cluster ? 'bash' : this.bin} ${argv.join(' ')}\n${this.logs()}`)));
    });
    const startTimeout = this.cluster ? CLUSTER_START_TIMEOUT_MS : START_TIMEOUT_MS;
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(
        `parley did not print its listening line within ${startTimeout} ms\n${this.logs()}`)),
      startTimeout);
    });
    try {
      this.port = await Promise.race([ready, timeout]);
    } catch (err) {
      this.expectedExit = true;
      if (this.cluster) killGroup(proc.pid, 'SIGKILL');
      else proc.kill('SIGKILL');
      await this.exited;
      await this.groupGone();
      throw err;
    } finally {
      clearTimeout(timer);
    }
    // A forgotten server must not keep the test process alive; the exit
    // hook kills it.
    proc.unref();
    proc.stdout.unref?.();
    proc.stderr.unref?.();
    this.baseUrl = `http://127.0.0.1:${this.port}`;
    this.wsUrl = `ws://127.0.0.1:${this.port}/ws`;
    return this;
  }

  // Graceful stop: SIGTERM, wait for the exit, which must be code 0.
  async stop() {
    if (!this.proc) return;
    if (!this.running) {
      if (this.expectedExit) return;
      const { code, signal } = await this.exited;
      throw new Error(`parley died on its own (code ${code}, signal ${signal})\n${this.logs()}`);
    }
    this.expectedExit = true;
    this.proc.ref(); // keep the test process alive until the exit is seen
    // A cluster's launcher stops its processes in order and then exits.
    this.proc.kill('SIGTERM');
    const stopTimeout = this.cluster ? CLUSTER_STOP_TIMEOUT_MS : STOP_TIMEOUT_MS;
    const result = await withTimeout(this.exited, stopTimeout, 'parley to exit after SIGTERM')
      .catch(async (err) => {
        if (this.cluster) killGroup(this.proc.pid, 'SIGKILL');
        else this.proc.kill('SIGKILL');
        await this.exited;
        throw new Error(`${err.message}\n${this.logs()}`);
      });
    await this.groupGone();
    assert.deepEqual(result, { code: 0, signal: null },
      `parley must exit with code 0 after SIGTERM\n${this.logs()}`);
    this.scanClusterLogs();
    this.assertNoSanitizerReport();
  }

  // Crash: SIGKILL (of the whole process group for a cluster), wait for the exit.
  async kill() {
    if (!this.running) return;
    this.expectedExit = true;
    this.proc.ref();
    if (this.cluster) killGroup(this.proc.pid, 'SIGKILL');
    else this.proc.kill('SIGKILL');
    await this.exited;
    await this.groupGone();
  }

  // Cluster mode: waits until no process of the launcher's group is left, so
  // that the next start finds the data dir, its lock and the ports released.
  async groupGone() {
    if (!this.cluster || !this.proc) return;
    const pgid = this.proc.pid;
    const deadline = Date.now() + STOP_TIMEOUT_MS;
    while (groupAlive(pgid)) {
      if (Date.now() > deadline) {
        killGroup(pgid, 'SIGKILL');
        throw new Error(`processes of the cluster (group ${pgid}) outlived their launcher\n${this.logs()}`);
      }
      await sleep(20);
    }
  }

  // Cluster mode: the processes' logs are files, not our pipes; a sanitizer
  // build run by hand reports there.
  scanClusterLogs() {
    if (!this.cluster || this.sanitizerReport !== null) return;
    const dir = path.join(this.dataDir, 'logs');
    let names = [];
    try {
      names = fs.readdirSync(dir).filter((n) => n.endsWith('.log'));
    } catch {
      return;
    }
    for (const n of names) {
      const text = fs.readFileSync(path.join(dir, n), 'utf8');
      const m = SANITIZER_REPORT.exec(text);
      if (m) {
        this.sanitizerReport = `${n}: ${text.slice(m.index, m.index + 2000)}`;
        return;
      }
    }
  }

  // Starts again on the same data dir (and config), stopping gracefully first
  // if still running. The port changes; read it from the object again.
  async restart() {
    if (this.running) await this.stop();
    return this.start();
  }

  // Stops the process gracefully if running (asserting a clean exit, which
  // also catches sanitizer reports at shutdown), then removes the temp dirs
  // made for it. Throws if the server had died on its own.
  async dispose() {
    try {
      await this.stop();
      this.assertNoSanitizerReport();
    } finally {
      await this.kill();
      for (const d of this.ownedDirs ?? []) {
        await fsp.rm(d, { recursive: true, force: true });
        tempDirs.delete(d);
      }
    }
  }
}

// What every server started here runs with, under a test's own `config`:
// - the admin port (/metrics) on a free port, as many servers run at once
//   (its default, 127.0.0.1:9464, is one per host);
// - the per-user send limit of before issue 10, since tests send faster than
//   people do (the default is for people). Tests of the limits set their
//   own, and startParley({testDefaults: false}) runs the real defaults.
export const TEST_CONFIG = Object.freeze({
  admin_listen: '127.0.0.1:0',
  rate: { send_per_sec: 1000, send_burst: 2000 },
});

// `b` over `a`, objects merged key by key.
function deepMerge(a, b) {
  const out = { ...a };
  for (const [k, v] of Object.entries(b ?? {})) {
    const isObj = (x) => x !== null && typeof x === 'object' && !Array.isArray(x);
    out[k] = isObj(v) && isObj(a[k]) ? deepMerge(a[k], v) : v;
  }
  return out;
}

// Starts a server (a cluster with PARLEY_CLUSTER=1). `config` (an object) is
// merged over TEST_CONFIG (unless `testDefaults` is false: then only the
// admin port is set) and written to a JSON file passed with --config (to
// every process of a cluster); `args` are appended to the command line (of
// the launcher, for a cluster); `dataDir` defaults to a fresh temp dir;
// `cluster` (default: the PARLEY_CLUSTER environment variable) picks a
// cluster over `parley serve`.
export async function startParley({ dataDir, args = [], config, cluster = CLUSTER, testDefaults = true } = {}) {
  const ownedDirs = [];
  const root = await makeTempDir();
  ownedDirs.push(root);
  if (!dataDir) {
    dataDir = path.join(root, 'data');
    await fsp.mkdir(dataDir);
  }
  const defaults = testDefaults ? TEST_CONFIG : { admin_listen: TEST_CONFIG.admin_listen };
  const configPath = path.join(root, 'config.json');
  await fsp.writeFile(configPath, JSON.stringify(deepMerge(defaults, config), null, 2));
  const server = new ParleyServer({ dataDir, configPath, args, bin: parleyBin(), cluster });
  server.ownedDirs = ownedDirs;
  await server.start();
  return server;
}

// ---------------------------------------------------------------------------
// Small utilities.

// Resident memory of process `pid` in KiB (VmRSS of /proc/<pid>/status).
export function rssKiB(pid) {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(m, `no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

export function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// Polls `fn` until it returns a truthy value; returns that value.
export async function eventually(fn, { timeoutMs = DEFAULT_TIMEOUT_MS, intervalMs = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

// A username unique to this run, valid under the protocol's rules.
export function uniqueName(prefix = 'u') {
  return `${prefix}_${randomBytes(5).toString('hex')}`.slice(0, 32);
}

// A client message id unique to this run.
export function clientId(prefix = 'c') {
  return `${prefix}-${randomBytes(8).toString('hex')}`;
}

export function privateConv(a, b) {
  return a <= b ? `p:${a}:${b}` : `p:${b}:${a}`;
}

export const SNOWFLAKE_EPOCH_MS = 1_577_836_800_000n;

// Milliseconds encoded in a snowflake msg_id (a decimal string).
export function snowflakeMs(msgId) {
  return Number((BigInt(msgId) >> 22n) + SNOWFLAKE_EPOCH_MS);
}

// ---------------------------------------------------------------------------
// HTTP.

// JSON request. `body` is JSON-encoded unless it is a string or Buffer, which
// is sent as is (still labelled application/json unless `headers` says
// otherwise). Returns {status, headers, text, json}; json is null when the
// response is not JSON.
export async function api(base, method, urlPath, body, token, headers = {}) {
  const h = { ...headers };
  let payload;
  if (body !== undefined) {
    payload = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['Content-Type'] = 'application/json';
  }
  if (token) h.Authorization = `Bearer ${token}`;
  const res = await fetch(base + urlPath, { method, headers: h, body: payload });
  const text = await res.text();
  let json = null;
  try {
    json = text.length ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: res.status, headers: res.headers, text, json };
}

// Asserts an API error: the status and the protocol's error body.
export function assertError(res, status, code, context = '') {
  const where = `${context ? context + ': ' : ''}got ${res.status} ${res.text}`;
  assert.equal(res.status, status, where);
  assert.ok(res.json && typeof res.json === 'object', `error body must be JSON; ${where}`);
  assert.ok(res.json.error && typeof res.json.error === 'object', `error body must have "error"; ${where}`);
  assert.equal(res.json.error.code, code, where);
  assert.equal(typeof res.json.error.message, 'string', `error.message must be a string; ${where}`);
}

// A register or login as a well-behaved client makes it: a 503 with
// Retry-After (the server's password hashers are busy and their queue is
// full) is tried again after the delay it asks for, a few times.
async function authCall(base, path, body) {
  for (let attempt = 0; ; attempt += 1) {
    const res = await api(base, 'POST', path, body);
    const retryAfter = Number(res.headers.get('retry-after'));
    if (res.status !== 503 || !(retryAfter > 0) || attempt >= 20) return res;
    await sleep(retryAfter * 1000 * (0.5 + Math.random() / 2));
  }
}

export async function register(base, username, password = 'correct horse') {
  const res = await authCall(base, '/api/v1/users', { username, password });
  assert.equal(res.status, 201, `register ${username}: ${res.status} ${res.text}`);
  return res.json;
}

export async function login(base, username, password = 'correct horse') {
  const res = await authCall(base, '/api/v1/sessions', { username, password });
  assert.equal(res.status, 200, `login ${username}: ${res.status} ${res.text}`);
  return res.json;
}

// Registers and logs in a fresh user: {user_id, username, password, token}.
export async function newUser(base, prefix = 'u', password = 'correct horse') {
  const username = uniqueName(prefix);
  const reg = await register(base, username, password);
  const ses = await login(base, username, password);
  assert.equal(ses.user_id, reg.user_id);
  return { user_id: reg.user_id, username, password, token: ses.token };
}

// POST /api/v1/messages, asserting 200. `to` is {to_user} or {to_group}.
export async function httpSend(base, token, to, body, id = clientId('h')) {
  const res = await api(base, 'POST', '/api/v1/messages', { id, ...to, body }, token);
  assert.equal(res.status, 200, `send ${id}: ${res.status} ${res.text}`);
  return res.json;
}

export async function createGroup(base, token, name, members = []) {
  const res = await api(base, 'POST', '/api/v1/groups', { name, members }, token);
  assert.equal(res.status, 201, `create group: ${res.status} ${res.text}`);
  return res.json;
}

// Every message of a conversation through history paging (after_seq).
// A page that is not readable yet (503 `unavailable`: a cluster's store still
// catching up, e.g. after a restart) is asked again shortly, as the protocol
// tells clients to, for up to DEFAULT_TIMEOUT_MS.
export async function fullHistory(base, token, conv, pageSize = 200) {
  const all = [];
  let after = 0;
  const deadline = Date.now() + DEFAULT_TIMEOUT_MS;
  for (;;) {
    const res = await api(base, 'GET',
      `/api/v1/conversations/${conv}/messages?after_seq=${after}&limit=${pageSize}`, undefined, token);
    if (res.status === 503 && res.json?.error?.code === 'unavailable' && Date.now() < deadline) {
      await sleep(100);
      continue;
    }
    assert.equal(res.status, 200, `history ${conv}: ${res.status} ${res.text}`);
    all.push(...res.json.messages);
    if (!res.json.has_more) return all;
    assert.ok(res.json.messages.length > 0, 'has_more with an empty page');
    after = res.json.messages.at(-1).seq;
  }
}

// ---------------------------------------------------------------------------
// WebSocket.

// A WebSocket client that buffers every frame, so that a test can wait for
// the frame it expects (`next`) regardless of what else arrived before it.
export class WsClient {
  // Connects to `url`. With `token`, authenticates with the Authorization
  // header, or with ?token= when `query` is true. Rejects with an Error
  // carrying {status, headers, body, json} when the server answers the
  // upgrade with an HTTP response.
  static connect(url, { token, query = false, headers = {}, timeoutMs = DEFAULT_TIMEOUT_MS, maxPayload } = {}) {
    let target = url;
    const h = { ...headers };
    if (token !== undefined) {
      if (query) target += `${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
      else h.Authorization = `Bearer ${token}`;
    }
    const ws = new WebSocket(target, { headers: h, handshakeTimeout: timeoutMs, maxPayload });
    const client = new WsClient(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (req, res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => { body += d; });
        res.on('end', () => {
          let json = null;
          try {
            json = JSON.parse(body);
          } catch {
            json = null;
          }
          const err = new Error(`upgrade refused with HTTP ${res.statusCode}: ${body}`);
          Object.assign(err, { status: res.statusCode, headers: res.headers, body, json });
          req.destroy();
          reject(err);
        });
      });
      ws.once('error', (err) => reject(err));
    });
  }

  constructor(ws) {
    this.ws = ws;
    this.frames = []; // parsed frames not yet taken by next()
    this.all = []; // every frame received, in order
    this.waiters = [];
    this.closeInfo = null;
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        resolve(this.closeInfo);
        for (const w of this.waiters.splice(0)) w.fail();
      });
    });
    ws.on('error', () => { /* reported through close */ });
    ws.on('message', (data, isBinary) => {
      let frame;
      if (isBinary) {
        frame = { __binary: true, __raw: Buffer.from(data) };
      } else {
        const text = data.toString('utf8');
        try {
          frame = JSON.parse(text);
        } catch {
          frame = { __invalid_json: text };
        }
      }
      this.all.push(frame);
      const i = this.waiters.findIndex((w) => w.predicate(frame));
      if (i >= 0) {
        const [w] = this.waiters.splice(i, 1);
        w.resolve(frame);
      } else {
        this.frames.push(frame);
      }
    });
  }

  // Waits for the first frame (buffered or future) matching `predicate`
  // (a function, or an object whose fields must all be equal), removes it
  // from the buffer and returns it.
  next(predicate = () => true, timeoutMs = DEFAULT_TIMEOUT_MS) {
    const match = toPredicate(predicate);
    const i = this.frames.findIndex(match);
    if (i >= 0) return Promise.resolve(this.frames.splice(i, 1)[0]);
    return new Promise((resolve, reject) => {
      const desc = describe(predicate);
      const waiter = {
        predicate: match,
        resolve: (f) => { clearTimeout(waiter.timer); resolve(f); },
        fail: () => {
          clearTimeout(waiter.timer);
          reject(new Error(`connection closed (${JSON.stringify(this.closeInfo)}) while waiting for ${desc}; ` +
            `unclaimed frames: ${JSON.stringify(this.frames).slice(0, 2000)}`));
        },
      };
      if (this.closeInfo) {
        waiter.fail();
        return;
      }
      waiter.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for frame ${desc}; ` +
          `unclaimed frames: ${JSON.stringify(this.frames).slice(0, 2000)}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  // Takes every buffered frame matching `predicate` without waiting.
  take(predicate = () => true) {
    const match = toPredicate(predicate);
    const taken = this.frames.filter(match);
    this.frames = this.frames.filter((f) => !match(f));
    return taken;
  }

  send(obj) {
    this.ws.send(JSON.stringify(obj));
  }

  // Sends bytes or text as they are; `binary` picks the frame opcode (a Buffer
  // sent with binary=false goes out as a text frame without validation).
  sendRaw(data, { binary = false } = {}) {
    this.ws.send(data, { binary });
  }

  // Round trip of {"type":"ping"} -> {"type":"pong"}: proves the connection
  // is open and that the server has processed everything sent before.
  async ping(timeoutMs = DEFAULT_TIMEOUT_MS) {
    this.send({ type: 'ping' });
    return this.next({ type: 'pong' }, timeoutMs);
  }

  close(code = 1000, reason = '') {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.close(code, reason);
    }
    return this.closed;
  }

  terminate() {
    this.ws.terminate();
    return this.closed;
  }
}

function toPredicate(p) {
  if (typeof p === 'function') return p;
  return (f) => Object.entries(p).every(([k, v]) => f[k] === v);
}

function describe(p) {
  return typeof p === 'function' ? p.toString().slice(0, 200) : JSON.stringify(p);
}

// Connects and waits for the hello frame; the client gets `.hello`.
export async function openWs(server, token, opts = {}) {
  const client = await WsClient.connect(server.wsUrl, { token, ...opts });
  client.hello = await client.next({ type: 'hello' });
  return client;
}

// Sends a `send` frame and waits for its ack (or error) by id.
export async function wsSend(client, to, body, id = clientId('w')) {
  client.send({ type: 'send', id, ...to, body });
  const reply = await client.next((f) => (f.type === 'ack' || f.type === 'error') && f.id === id);
  assert.equal(reply.type, 'ack', `send ${id} answered with ${JSON.stringify(reply)}`);
  return reply;
}

// The listed fields of `obj` that it has (the protocol may grow new fields;
// tests compare the ones they know).
export function pick(obj, keys) {
  const out = {};
  for (const k of keys) if (obj !== null && obj !== undefined && Object.hasOwn(obj, k)) out[k] = obj[k];
  return out;
}

export const CONV_FIELDS = ['conv', 'last_seq', 'read_seq', 'peer', 'group_id'];
export const MSG_FIELDS = ['msg_id', 'conv', 'seq', 'from', 'to_user', 'to_group', 'body', 'ts', 'id'];
