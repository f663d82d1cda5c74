// scripts/cluster.sh itself, on the three servers alone (--servers-only):
// every child in the launcher's process group, cluster.json current, a
// server restarted in place on its port with its data, a SIGKILL of the
// group followed by a clean second run on the same data, SIGTERM exiting 0
// with nothing left behind, and up/status/down. The parley part runs with a
// stand-in binary (fake_parley.sh): the order, the flags of each role, node
// ids, and the exit status after SIGTERM.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {
  CLUSTER_SCRIPT, makeTempDir, withTimeout, eventually, sleep, freePort, TIMEOUT_SCALE,
} from '../support/parley_server.mjs';

const START_MS = 60_000 * TIMEOUT_SCALE;

// Runs a cluster.sh subcommand to its end: {code, out}.
async function cli(...args) {
  const proc = spawn('bash', [CLUSTER_SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { out += d; });
  const [code] = await withTimeout(once(proc, 'exit'), START_MS, `cluster.sh ${args.join(' ')}`);
  return { code, out };
}

const FAKE_PARLEY = path.join(path.dirname(new URL(import.meta.url).pathname), 'fake_parley.sh');

// and what of its process group still runs.
async function launcherExit(run) {
  try {
    return await withTimeout(run.exited, START_MS, 'the launcher to exit');
  } catch (e) {
    let group = '';
    try {
      group = execFileSync('ps', ['-eo', 'pid,pgid,stat,etime,args'], { encoding: 'utf8' })
        .split('\n').filter((l) => l.trim().split(/\s+/)[1] === String(run.proc.pid)).join('\n');
    } catch { /* ps missing: the message says enough */ }
    throw new Error(`${e.message}\n--- launcher stderr:\n${run.stderr()}\n--- its process group:\n${group}`);
  }
}

// `run --servers-only` (or `run` with `args`) in its own process group;
// resolves once it is ready.
async function runServers(dataDir, args = ['--servers-only'], env = process.env) {
  const proc = spawn('bash', [CLUSTER_SCRIPT, 'run', ...args, '--data-dir', dataDir],
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env });
  let out = '';
  let err = '';
  proc.stderr.on('data', (d) => { err += d; });
  const exited = once(proc, 'exit');
  await withTimeout(new Promise((resolve, reject) => {
    proc.stdout.on('data', (d) => {
      out += d;
      if (/cluster (servers ready|listening on)/.test(out)) resolve();
    });
    exited.then(([code]) => reject(new Error(`launcher exited (${code}) before ready:\n${err}`)));
  }), START_MS, 'the servers to be ready');
  process.on('exit', () => {
    try {
      process.kill(-proc.pid, 'SIGKILL');
    } catch { /* gone */ }
  });
  return { proc, exited, stderr: () => err };
}

function readJson(dataDir) {
  return JSON.parse(fs.readFileSync(path.join(dataDir, 'cluster.json'), 'utf8'));
}

function pgrpOf(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
}

function alive(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

// One RESP command over a fresh connection; returns the raw reply.
async function redis(listen, ...words) {
  const [host, port] = listen.split(':');
  const sock = net.connect(Number(port), host);
  await once(sock, 'connect');
  sock.write(`*${words.length}\r\n${words.map((w) => `$${Buffer.byteLength(w)}\r\n${w}\r\n`).join('')}`);
  const [reply] = await once(sock, 'data');
  sock.destroy();
  return reply.toString();
}

const byName = (info, name) => info.processes.find((p) => p.name === name);

test('servers-only: one process group, cluster.json, restart in place, kill -9 and run again, SIGTERM', async () => {
  const dir = await makeTempDir('parley-launcher-');
  const dataDir = path.join(dir, 'd');
  let run = await runServers(dataDir);

  let info = readJson(dataDir);
  assert.equal(info.launcher_pid, run.proc.pid);
  assert.equal(info.appendfsync, 'always');
  assert.deepEqual(info.processes.map((p) => [p.name, p.role, p.alive]),
    [['redis', 'redis', true], ['etcd', 'etcd', true], ['mariadb', 'mariadb', true]]);
  for (const p of info.processes) {
    assert.equal(pgrpOf(p.pid), run.proc.pid, `${p.name} stays in the launcher's process group`);
    assert.match(p.listen, /^127\.0\.0\.1:\d+$/);
  }
  const redisAddr = byName(info, 'redis').listen;
  assert.match(await redis(redisAddr, 'CONFIG', 'GET', 'appendfsync'), /always/);
  assert.match(await redis(redisAddr, 'SET', 'launcher-test', 'kept'), /^\+OK/);

  // Restart in place: same port, its data back from the AOF.
  const oldRedis = byName(info, 'redis').pid;
  const restarted = await cli('restart', 'redis', '--signal', 'KILL', '--data-dir', dataDir);
  assert.equal(restarted.code, 0, restarted.out);
  info = readJson(dataDir);
  assert.notEqual(byName(info, 'redis').pid, oldRedis);
  assert.equal(byName(info, 'redis').listen, redisAddr);
  assert.equal(pgrpOf(byName(info, 'redis').pid), run.proc.pid);
  assert.match(await redis(redisAddr, 'GET', 'launcher-test'), /kept/);

  // A process that dies is marked dead in cluster.json, and status says so.
  process.kill(byName(info, 'etcd').pid, 'SIGKILL');
  await eventually(() => readJson(dataDir).processes.find((p) => p.name === 'etcd').alive === false,
    { what: 'cluster.json to mark etcd dead' });
  assert.equal((await cli('status', '--data-dir', dataDir)).code, 1);
  const started = await cli('start', 'etcd', '--data-dir', dataDir);
  assert.equal(started.code, 0, started.out);
  const status = await cli('status', '--json', '--data-dir', dataDir);
  assert.equal(status.code, 0, status.out);
  const parsed = JSON.parse(status.out);
  assert.equal(parsed.running, true);
  assert.ok(parsed.processes.every((p) => p.alive), status.out);
  assert.equal((await cli('start', 'etcd', '--data-dir', dataDir)).code, 1, 'etcd already runs');
  assert.equal((await cli('restart', 'nosuch', '--data-dir', dataDir)).code, 1);

  // The whole group at once, then a second run on the same data.
  const pids = readJson(dataDir).processes.map((p) => p.pid);
  process.kill(-run.proc.pid, 'SIGKILL');
  await run.exited;
  await eventually(() => pids.every((p) => !alive(p)), { what: 'every server to die with the group' });
  run = await runServers(dataDir);
  info = readJson(dataDir);
  assert.match(await redis(byName(info, 'redis').listen, 'GET', 'launcher-test'), /kept/,
    'redis data survives a SIGKILL of the group');

  // SIGTERM: everything stops, exit 0, nothing left.
  const last = info.processes.map((p) => p.pid);
  run.proc.kill('SIGTERM');
  const [code, signal] = await launcherExit(run);
  assert.deepEqual([code, signal], [0, null], run.stderr());
  assert.ok(last.every((p) => !alive(p)), 'every server stopped');
  assert.equal(fs.existsSync(path.join(dataDir, 'cluster.json')), false);
});

test('up, status, down', async () => {
  const dir = await makeTempDir('parley-launcher-');
  const dataDir = path.join(dir, 'd');
  const up = await cli('up', '--servers-only', '--data-dir', dataDir);
  assert.equal(up.code, 0, up.out);
  assert.match(up.out, /cluster servers ready/);
  const pid = Number(fs.readFileSync(path.join(dataDir, 'cluster.pid'), 'utf8'));
  assert.ok(alive(pid));
  assert.equal(pgrpOf(pid), pid, 'up detaches the launcher into its own process group');
  const again = await cli('up', '--servers-only', '--data-dir', dataDir);
  assert.notEqual(again.code, 0, 'a second cluster on the same data dir is refused');
  assert.equal((await cli('status', '--data-dir', dataDir)).code, 0);
  const pids = readJson(dataDir).processes.map((p) => p.pid);
  const down = await cli('down', '--data-dir', dataDir);
  assert.equal(down.code, 0, down.out);
  assert.ok(!alive(pid) && pids.every((p) => !alive(p)));
  assert.equal((await cli('status', '--data-dir', dataDir)).code, 3);
  await sleep(0);
});

test('bad options are refused before anything starts', async () => {
  const dir = await makeTempDir('parley-launcher-');
  for (const args of [
    ['run', '--data-dir', dir, '--port', 'x', '--bin', '/bin/true'],
    ['run', '--data-dir', dir, '--port', '1', '--api', '0', '--bin', '/bin/true'],
    ['run', '--data-dir', dir, '--servers-only', '--appendfsync', 'never'],
    ['run', '--port', '1'],
    ['run', '--data-dir', dir, '--servers-only', '--bogus', '1'],
  ]) {
    const r = await cli(...args);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.out}`);
  }
  assert.equal(fs.existsSync(path.join(dir, 'redis')), false, 'nothing started');
});

test('the parley processes: start order, flags per role, node ids, cluster.json, SIGTERM', async () => {
  const dir = await makeTempDir('parley-launcher-');
  const dataDir = path.join(dir, 'd');
  const configPath = path.join(dir, 'config.json');
  fs.writeFileSync(configPath, '{}');
  const port = await freePort();
  const args = ['--port', String(port), '--bin', FAKE_PARLEY, '--api', '2', '--logic', '1', '--task', '2',
    '--connect', '3', '--partitions', '8', '--config', configPath, '--password-hash-cost', 'min'];
  let run = await runServers(dataDir, args);
  let info = readJson(dataDir);
  assert.equal(info.port, port);
  assert.deepEqual(info.processes.map((p) => p.name), ['redis', 'etcd', 'mariadb', 'logic-1', 'task-1', 'task-2',
    'connect-1', 'connect-2', 'connect-3', 'api-1', 'api-2']);
  for (const p of info.processes) {
    assert.equal(pgrpOf(p.pid), run.proc.pid, `${p.name} in the launcher's group`);
    if (['logic', 'task', 'connect', 'api'].includes(p.role)) assert.equal(p.node_id, p.name);
  }
  assert.equal(byName(info, 'api-1').listen, `127.0.0.1:${port}`);
  assert.equal(byName(info, 'api-2').listen, `127.0.0.1:${port}`);
  const logOf = (name) => fs.readFileSync(byName(info, name).log, 'utf8');
  const logic = logOf('logic-1');
  for (const flag of ['--etcd', '--redis', '--mysql mysql://parley:', '--grpc-listen', '--partitions 8',
    `--config ${configPath}`, '--password-hash-cost min']) {
    assert.ok(logic.includes(flag), `logic gets ${flag}: ${logic}`);
  }
  assert.ok(!logOf('task-1').includes('--password-hash-cost'), 'task has no --password-hash-cost');
  assert.ok(!logOf('connect-1').includes('--mysql'), 'connect gets no --mysql');
  assert.ok(logOf('connect-1').includes(`--public-ws-url ws://127.0.0.1:${port}/ws`));
  assert.ok(logOf('api-1').includes(`--listen 127.0.0.1:${port}`));
  // /metrics: api and connect processes each on an admin port of their own
  // (logic and task serve it on --listen, their only HTTP port).
  const admins = ['api-1', 'api-2', 'connect-1', 'connect-2', 'connect-3'].map((n) => byName(info, n).admin);
  for (const [i, a] of admins.entries()) {
    assert.match(a ?? '', /^127\.0\.0\.1:\d+$/, `admin address of process ${i}`);
  }
  assert.equal(new Set(admins).size, admins.length, 'admin ports are distinct');
  assert.ok(logOf('api-1').includes(`--admin-listen ${byName(info, 'api-1').admin}`));
  assert.ok(logOf('connect-1').includes(`--admin-listen ${byName(info, 'connect-1').admin}`));
  assert.equal(byName(info, 'logic-1').admin, undefined);
  assert.match(fs.readFileSync(path.join(dataDir, 'logs', 'migrate.log'), 'utf8'), /fake parley migrate: --mysql/);

  // A killed node is marked dead; start brings it back on the same address.
  const victim = byName(info, 'connect-2');
  process.kill(victim.pid, 'SIGKILL');
  await eventually(() => byName(readJson(dataDir), 'connect-2').alive === false, { what: 'connect-2 marked dead' });
  const started = await cli('start', 'connect-2', '--data-dir', dataDir);
  assert.equal(started.code, 0, started.out);
  info = readJson(dataDir);
  assert.equal(byName(info, 'connect-2').alive, true);
  assert.equal(byName(info, 'connect-2').listen, victim.listen);

  run.proc.kill('SIGTERM');
  assert.deepEqual(await launcherExit(run), [0, null], run.stderr());

  // A parley process that fails its SIGTERM fails the launcher's exit.
  run = await runServers(dataDir, [...args, '--api', '1'], { ...process.env, FAKE_PARLEY_EXIT: '3' });
  run.proc.kill('SIGTERM');
  const [code] = await launcherExit(run);
  assert.equal(code, 1, run.stderr());
  assert.match(run.stderr(), /logic-1 exited with status 3 after SIGTERM/);
});
