#!/bin/bash
# bench_smoke: a few seconds of `parley-bench p2p` against a real
# `parley serve`; passes when the generator exits 0 (every acked message
# delivered exactly once, in order) and the server stops cleanly on SIGTERM.
# It asserts correctness, not speed.
#   usage: smoke.sh PARLEY_BIN PARLEY_BENCH_BIN
set -u
parley=$1
bench=$2
dir=$(mktemp -d "${TMPDIR:-/tmp}/parley-bench-smoke.XXXXXX")
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null; fi
  rm -rf "$dir"
}
trap cleanup EXIT

# Every bench user logs in and sends from one address: bench.json lifts the
# per-user, per-IP and per-account limits. The admin port on a free port,
# since other servers may run on this host.
"$parley" serve --listen 127.0.0.1:0 --data-dir "$dir/data" --password-hash-cost min \
  --config "$(dirname "$0")/bench.json" --admin-listen 127.0.0.1:0 \
  >"$dir/server.out" 2>"$dir/server.err" &
pid=$!

port=
for _ in $(seq 300); do
  port=$(sed -n 's/.*parley listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$dir/server.out" | head -1)
  [ -n "$port" ] && break
  if ! kill -0 "$pid" 2>/dev/null; then break; fi
  sleep 0.1
done
if [ -z "$port" ]; then
  echo "smoke: parley did not start listening" >&2
  cat "$dir/server.out" "$dir/server.err" >&2
  exit 1
fi

"$bench" p2p --server "127.0.0.1:$port" --users 50 --rate 500 --warmup 1 --duration 3 \
  --grace 2 --drain-timeout 20 --server-pid "$pid"
rc=$?

kill -TERM "$pid"
wait "$pid"
src=$?
pid=
if [ "$rc" -ne 0 ]; then
  echo "smoke: parley-bench exited with $rc" >&2
  tail -50 "$dir/server.err" >&2
  exit "$rc"
fi
if [ "$src" -ne 0 ]; then
  echo "smoke: parley exited with $src after SIGTERM" >&2
  tail -50 "$dir/server.err" >&2
  exit 1
fi
echo "smoke: ok"
