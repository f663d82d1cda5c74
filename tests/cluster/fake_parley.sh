#!/usr/bin/env bash
# A stand-in for the parley binary in the launcher's own tests
# (launcher.test.mjs): `fake_parley.sh <role> [flags]` prints its arguments,
# then `parley <role> listening on <--listen>`, and exits on SIGTERM with
# $FAKE_PARLEY_EXIT (default 0); `migrate` exits 0 at once.
#
# With FAKE_PARLEY_SERVE=/path/to/parley, the api role runs the real
# embedded server (`parley serve`) on its --listen address with its data in
# $PARLEY_CLUSTER_DIR/fake-serve: the launcher, the harness and the e2e
# suite can then be exercised end to end with `--api 1` before the cluster
# processes exist:
#   FAKE_PARLEY_SERVE=build/src/app/parley PARLEY_BIN=tests/cluster/fake_parley.sh \
#   PARLEY_CLUSTER=1 PARLEY_CLUSTER_ARGS='--api 1' node --test tests/e2e/durability.test.mjs
set -uo pipefail

role=${1:?role}
shift
echo "fake parley $role: $*"
[[ $role == migrate ]] && exit 0

listen='' passthrough=()
while (($#)); do
  case $1 in
    --listen) listen=$2; shift 2 ;;
    --config | --password-hash-cost | --web-root | --admin-listen) passthrough+=("$1" "$2"); shift 2 ;;
    --*) shift 2 ;;
    *) shift ;;
  esac
done

if [[ $role == api && -n ${FAKE_PARLEY_SERVE:-} ]]; then
  data=${PARLEY_CLUSTER_DIR:?the launcher exports PARLEY_CLUSTER_DIR}/fake-serve
  mkdir -p "$data"
  coproc SERVE { exec "$FAKE_PARLEY_SERVE" serve --listen "$listen" --data-dir "$data" "${passthrough[@]}" 2>&1; }
  serve_pid=$SERVE_PID
  trap 'kill -TERM "$serve_pid"; wait "$serve_pid"; exit $?' TERM
  while IFS= read -r line <&"${SERVE[0]}"; do
    echo "$line"
    [[ $line == "parley listening on "* ]] && echo "parley api listening on ${line##* }"
  done
  wait "$serve_pid"
  exit $?
fi

trap 'echo "fake parley $role: SIGTERM"; exit "${FAKE_PARLEY_EXIT:-0}"' TERM
echo "parley $role listening on $listen"
while :; do
  sleep 0.2 &
  wait $!
done
