#!/usr/bin/env bash
# A whole Parley cluster on loopback: redis-server, mariadbd and etcd from
# Debian's packages plus N api, logic, task and connect processes, with every
# byte of state under one data directory. See docs/cluster.md.
#
#   cluster.sh run     --port P --data-dir D [options]  foreground; SIGTERM stops it
#   cluster.sh up      --port P --data-dir D [options]  the same, in the background
#   cluster.sh down    --data-dir D                     SIGTERM to the background one, wait
#   cluster.sh status  --data-dir D [--json]            what runs, from D/cluster.json
#   cluster.sh stop    NAME --data-dir D [--signal SIG] stop one process (it stays stopped)
#   cluster.sh start   NAME --data-dir D                start a stopped process again
#   cluster.sh restart NAME --data-dir D [--signal SIG] both
#
# Nothing daemonizes: every child stays in the launcher's process group, so a
# SIGKILL of the group takes the whole cluster down at once, and a second
# `run` on the same directory starts on the same data. Needs bash, coreutils
# and util-linux only (no python): free ports come from /proc/net/tcp*.
set -uo pipefail

SELF="$(readlink -f "${BASH_SOURCE[0]}")"
REPO="$(cd "$(dirname "$SELF")/.." && pwd)"
readonly SELF REPO
readonly PARLEY_ROLES=(logic task connect api) # start order
# Stop order: entries first, consumers last; connect before api, because the
# api's /ws proxy carries connect's close frames (1001, going away) to the
# clients.
readonly STOP_ORDER=(connect api logic task)

log() { printf 'cluster.sh: %s\n' "$*" >&2; }
die() {
  log "$*"
  exit 1
}

usage() {
  sed -n '2,/^set -uo/p' "$SELF" | sed -e '/^set -uo/d' -e 's/^# \{0,1\}//'
  cat <<'EOF'
Options of run and up:
  --port P                 public HTTP/WebSocket port, shared by every api process (SO_REUSEPORT)
  --data-dir D             all state: D/redis, D/mariadb, D/etcd, D/logs, D/cluster.json
  --bin PATH               the parley binary (default: $PARLEY_BIN, else build/src/app/parley)
  --api N --logic N --task N --connect N   processes of each role (default 2 each, at least 1)
  --partitions N           Redis stream partitions (default 16; fixed for the life of D)
  --appendfsync always|everysec   Redis AOF fsync (default always: durable before acknowledged)
  --config FILE            JSON config file given to every parley process
  --password-hash-cost min|interactive|moderate   passed to every parley process
  --log-format text|json   --log-level LEVEL   --threads N   passed to every parley process
  --public-host HOST       host in the advertised WebSocket URLs (default 127.0.0.1)
  --public-ws-url URL      the WebSocket URL every connect node advertises (default ws://HOST:P/ws,
                           the api's /ws, which proxies to a live connect node)
  --web-root DIR           the web client the api processes serve (default: theirs)
  --direct-ws              each connect node advertises its own ws://HOST:PORT/ws instead
  --servers-only           start redis, mariadb and etcd only (no parley processes)
  --start-timeout S        seconds each process may take to become ready (default 60)
EOF
}

# ---------------------------------------------------------------------------
# Small helpers.

# The helpers the supervisor's loop runs for every process, several times a
# second, use builtins only: a fork per call made the loop and each change of
# cluster.json cost hundreds of milliseconds on a busy two-core machine,
# which a restarted server's clients waited through.

# True while `pid` is a live process (a zombie counts as dead: PID 1 of a
# container may never reap the orphans of a killed launcher).
pid_alive() {
  local pid=$1 stat
  [[ -n "$pid" && "$pid" != 0 ]] || return 1
  { IFS= read -r stat <"/proc/$pid/stat"; } 2>/dev/null || return 1
  stat=${stat##*) }
  [[ "${stat:0:1}" != Z ]]
}

# Sets the variable named $1 to the JSON string literal of $2.
json_str_to() {
  local -n json_out=$1
  local s=$2
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\t'/\\t}
  s=${s//$'\r'/\\r}
  json_out="\"$s\""
}

# JSON string literal of $1, printed.
json_str() {
  local v
  json_str_to v "$1"
  printf '%s' "$v"
}

# Ports anyone on this host holds in any state (listening, connected,
# TIME_WAIT), read from the kernel's tables.
declare -A TAKEN_PORTS=()
declare -A GIVEN_PORTS=() # handed out by this launcher, not yet bound
scan_ports() {
  TAKEN_PORTS=()
  local f hex
  for f in /proc/net/tcp /proc/net/tcp6; do
    [[ -r $f ]] || continue
    # awk, not a bash read loop: a busy machine lists tens of thousands of
    # sockets here, and bash reads a file a line per syscall.
    while read -r hex; do
      TAKEN_PORTS[$((16#$hex))]=1
    done < <(awk 'NR > 1 { n = split($2, a, ":"); print a[n] }' "$f" | sort -u)
  done
  PORTS_SCANNED=1
}

# A loopback TCP port nobody holds, outside the kernel's ephemeral range (so
# that outgoing connections do not take it before the child binds it).
FREE_PORT=0
PORTS_SCANNED=0
free_port() {
  local lo hi first last port tries
  read -r lo hi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || { lo=32768; hi=60999; }
  if ((lo > 12000)); then
    first=10000 last=$((lo - 1))
  else
    first=$((hi + 1)) last=65535
  fi
  # One scan per launcher: the ports it hands out itself are in GIVEN_PORTS.
  ((PORTS_SCANNED)) || scan_ports
  for ((tries = 0; tries < 1000; tries++)); do
    port=$((first + (RANDOM * 32768 + RANDOM) % (last - first + 1)))
    [[ -z "${TAKEN_PORTS[$port]:-}" && -z "${GIVEN_PORTS[$port]:-}" ]] || continue
    GIVEN_PORTS[$port]=1
    FREE_PORT=$port
    return 0
  done
  die "no free loopback port in $first-$last"
}

# HTTP over bash's /dev/tcp: METHOD HOST PORT PATH [JSON BODY]; prints the
# response body; succeeds on status 200.
http_request() {
  local method=$1 host=$2 port=$3 path=$4 payload=${5-} fd status line body=''
  { exec {fd}<>"/dev/tcp/$host/$port"; } 2>/dev/null || return 1
  printf '%s %s HTTP/1.0\r\nHost: %s:%s\r\nConnection: close\r\n' "$method" "$path" "$host" "$port" >&"$fd"
  if [[ -n $payload ]]; then
    printf 'Content-Type: application/json\r\nContent-Length: %s\r\n' "${#payload}" >&"$fd"
  fi
  printf '\r\n%s' "$payload" >&"$fd"
  IFS= read -r -t 2 status <&"$fd" || {
    exec {fd}>&-
    return 1
  }
  while IFS= read -r -t 2 line <&"$fd"; do [[ $line == $'\r' || -z $line ]] && break; done
  while IFS= read -r -t 2 line <&"$fd"; do body+=$line$'\n'; done
  [[ -n $line ]] && body+=$line
  exec {fd}>&-
  printf '%s' "$body"
  [[ $status == HTTP/1.[01]\ 200* ]]
}

http_get() { http_request GET "$@"; }

redis_ping() {
  local port=$1 fd reply
  { exec {fd}<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
  printf 'PING\r\n' >&"$fd"
  IFS= read -r -t 2 reply <&"$fd"
  exec {fd}>&-
  [[ $reply == +PONG* ]]
}

random_hex() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }

# ---------------------------------------------------------------------------
# Options.

PORT='' DATA_DIR='' BIN='' CONFIG='' HASH_COST='' LOG_FORMAT='' LOG_LEVEL='' THREADS=''
APPENDFSYNC=always PARTITIONS=16 SERVERS_ONLY=0 START_TIMEOUT=60 PUBLIC_HOST=127.0.0.1
JSON_OUT=0 SIGNAL=TERM TARGET='' PUBLIC_WS_URL='' DIRECT_WS=0 WEB_ROOT=''
declare -A COUNT=([api]=2 [logic]=2 [task]=2 [connect]=2)

count_arg() {
  [[ $2 =~ ^[0-9]+$ ]] && (($2 >= 1 && $2 <= 64)) || die "--$1 wants a number 1-64, got '$2'"
  COUNT[$1]=$2
}

parse_options() {
  while (($#)); do
    local opt=$1
    case $opt in
      --json) JSON_OUT=1; shift; continue ;;
      --servers-only) SERVERS_ONLY=1; shift; continue ;;
      --direct-ws) DIRECT_WS=1; shift; continue ;;
      -h | --help) usage; exit 0 ;;
    esac
    [[ $opt == --* ]] || {
      [[ -z $TARGET ]] || die "unexpected argument '$opt'"
      TARGET=$opt
      shift
      continue
    }
    (($# >= 2)) || die "$opt needs a value"
    local v=$2
    shift 2
    case $opt in
      --port) PORT=$v ;;
      --data-dir) DATA_DIR=$v ;;
      --bin) BIN=$v ;;
      --config) CONFIG=$v ;;
      --api | --logic | --task | --connect) count_arg "${opt#--}" "$v" ;;
      --appendfsync) APPENDFSYNC=$v ;;
      --partitions) PARTITIONS=$v ;;
      --password-hash-cost) HASH_COST=$v ;;
      --log-format) LOG_FORMAT=$v ;;
      --log-level) LOG_LEVEL=$v ;;
      --threads) THREADS=$v ;;
      --public-host) PUBLIC_HOST=$v ;;
      --public-ws-url) PUBLIC_WS_URL=$v ;;
      --web-root) WEB_ROOT=$v ;;
      --start-timeout) START_TIMEOUT=$v ;;
      --signal) SIGNAL=${v#SIG} ;;
      *) die "unknown option $opt (see --help)" ;;
    esac
  done
}

validate_run_options() {
  [[ -n $DATA_DIR ]] || die "--data-dir is required"
  if ((!SERVERS_ONLY)); then
    [[ $PORT =~ ^[0-9]+$ ]] && ((PORT >= 1 && PORT <= 65535)) || die "--port wants a port number, got '$PORT'"
  fi
  [[ $APPENDFSYNC == always || $APPENDFSYNC == everysec ]] || die "--appendfsync is always or everysec"
  [[ $PARTITIONS =~ ^[0-9]+$ ]] && ((PARTITIONS >= 1 && PARTITIONS <= 4096)) || die "--partitions wants 1-4096"
  [[ $START_TIMEOUT =~ ^[0-9]+$ ]] && ((START_TIMEOUT >= 1)) || die "--start-timeout wants seconds"
  [[ -z $THREADS || $THREADS =~ ^[0-9]+$ ]] || die "--threads wants a number"
  if [[ -n $CONFIG ]]; then
    [[ -r $CONFIG ]] || die "--config $CONFIG: cannot read it"
    CONFIG=$(readlink -f "$CONFIG")
  fi
  [[ -z $WEB_ROOT ]] || WEB_ROOT=$(readlink -f "$WEB_ROOT")
  mkdir -p "$DATA_DIR" || die "cannot create $DATA_DIR"
  DATA_DIR=$(cd "$DATA_DIR" && pwd)
  if ((!SERVERS_ONLY)); then
    BIN=${BIN:-${PARLEY_BIN:-$REPO/build/src/app/parley}}
    [[ -x $BIN ]] || die "no parley binary at $BIN (build it, or pass --bin / set PARLEY_BIN)"
    BIN=$(readlink -f "$BIN")
  fi
  local b
  for b in redis-server mariadbd mariadb-install-db mariadb etcd; do
    find_server "$b" >/dev/null || die "$b not found (scripts/install-deps.sh --test installs it)"
  done
}

# Debian puts mariadbd in /usr/sbin, which a non-root PATH may lack.
find_server() {
  local d
  for d in /usr/sbin /usr/bin /usr/local/sbin /usr/local/bin; do
    [[ -x $d/$1 ]] && { echo "$d/$1"; return 0; }
  done
  command -v "$1"
}

# ---------------------------------------------------------------------------
# The processes the launcher owns. Per name: its role ("redis", "mariadb",
# "etcd" or a parley role), the command line (a string of shell words, made
# with printf %q), addresses, log, pid, and whether it runs.

NAMES=()
declare -A ROLE=() CMD=() LISTEN=() GRPC=() ADMIN=() EXTRA=() NODE=() LOGF=() LOGOFF=() PID=() ALIVE=() STATUS=()
MYSQL_DSN='' REDIS_ADDR='' ETCD_ADDR='' MARIADB_SOCK='' DB_ADMIN=''

add_name() {
  local n=$1
  [[ -n ${ROLE[$n]:-} ]] || NAMES+=("$n")
  ROLE[$n]=$2
  LOGF[$n]=$DATA_DIR/logs/$n.log
  ALIVE[$n]=0
  PID[$n]=''
}

# Starts NAME's command in the background, in our process group, with its
# output appended to its log; nothing of ours leaks into it but the lock fd.
spawn() {
  local n=$1
  local -a argv
  eval "argv=(${CMD[$n]})"
  LOGOFF[$n]=$(stat -c %s "${LOGF[$n]}" 2>/dev/null || echo 0)
  printf '\n==== %s: cluster.sh starts: %s\n' "$(date -Is)" "${CMD[$n]}" >>"${LOGF[$n]}"
  LOGOFF[$n]=$(stat -c %s "${LOGF[$n]}")
  if [[ ${ROLE[$n]} == etcd ]]; then
    ETCD_UNSUPPORTED_ARCH=$(dpkg --print-architecture 2>/dev/null || echo) \
      "${argv[@]}" >>"${LOGF[$n]}" 2>&1 </dev/null &
  else
    "${argv[@]}" >>"${LOGF[$n]}" 2>&1 </dev/null &
  fi
  PID[$n]=$!
  ALIVE[$n]=1
  STATUS[$n]=''
}

# What NAME printed since its last start.
log_since_start() { tail -c +$((${LOGOFF[$1]:-0} + 1)) "${LOGF[$1]}" 2>/dev/null; }

is_ready() {
  local n=$1 port
  case ${ROLE[$n]} in
    redis) redis_ping "${LISTEN[$n]##*:}" ;;
    etcd) [[ $(http_get 127.0.0.1 "${LISTEN[$n]##*:}" /health 2>/dev/null) == *'"health":"true"'* ]] ;;
    mariadb) "$(find_server mariadb)" --no-defaults --protocol=socket -S "$MARIADB_SOCK" -u "$DB_ADMIN" \
      -e 'SELECT 1' >/dev/null 2>&1 ;;
    *) log_since_start "$n" | grep -q "parley ${ROLE[$n]} listening on" ;;
  esac
}

# Sets STATUS[NAME] to the exit status of its process, which has exited.
# When a trapped signal lands just after one `wait` returned and before the
# shell runs another builtin, bash 5.2 keeps a stale "interrupted" mark, and
# the next `wait` returns 128+signal at once without reaping anything. Bash
# keeps a reaped child's status, so asking again gives the real one (the
# same 128+signal again if the process did die of that signal).
record_exit() {
  local n=$1 status again
  wait "${PID[$n]}" 2>/dev/null
  status=$?
  if ((status > 128)); then
    wait "${PID[$n]}" 2>/dev/null
    again=$?
    ((again == 127)) || status=$again
  fi
  STATUS[$n]=$status
  ALIVE[$n]=0
}

# Waits until NAME is ready; fails if it exits or the start timeout passes.
wait_ready() {
  local n=$1 deadline=$((SECONDS + START_TIMEOUT))
  while ! is_ready "$n"; do
    if ! pid_alive "${PID[$n]}"; then
      record_exit "$n"
      log "$n exited while starting (status ${STATUS[$n]}); its log ends with:"
      log_since_start "$n" | tail -n 25 >&2
      return 1
    fi
    if ((SECONDS >= deadline)); then
      log "$n was not ready within ${START_TIMEOUT}s; its log ends with:"
      log_since_start "$n" | tail -n 25 >&2
      return 1
    fi
    sleep 0.05
  done
}

# Did NAME fail because another process took its port first?
lost_port_race() { log_since_start "$1" | grep -qiE 'address already in use|EADDRINUSE|bind.*in use'; }

# Did NAME fail because its node id is still held in etcd? After a SIGKILL
# the dead process's lease outlives it by its TTL (seconds): wait it out.
node_id_still_held() { log_since_start "$1" | grep -qiE 'already holds|already_exists|already exists'; }

# Sends SIG to NAME and waits for its exit (SIGKILL after the grace period).
# Sets STATUS[NAME]; fails if it had to be killed.
stop_process() {
  ((ALIVE[$1])) || return 0
  kill -s "$2" "${PID[$1]}" 2>/dev/null
  wait_stopped "$@"
}

# Waits for NAME (already sent SIG) to exit, SIGKILL after the grace period.
wait_stopped() {
  local n=$1 sig=$2 grace=${3:-30} pid=${PID[$1]} deadline killed=0
  ((ALIVE[$n])) || return 0
  deadline=$((SECONDS + grace))
  while pid_alive "$pid"; do
    if ((SECONDS >= deadline)) && ((!killed)); then
      log "$n (pid $pid) still runs ${grace}s after SIG$sig: SIGKILL"
      kill -s KILL "$pid" 2>/dev/null
      killed=1
    fi
    sleep 0.05
  done
  record_exit "$n"
  ((!killed))
}

# ---------------------------------------------------------------------------
# Command lines.

build_redis() {
  free_port
  LISTEN[redis]=127.0.0.1:$FREE_PORT
  REDIS_ADDR=${LISTEN[redis]}
  CMD[redis]=$(printf '%q ' "$(find_server redis-server)" --bind 127.0.0.1 --port "$FREE_PORT" \
    --dir "$DATA_DIR/redis" --daemonize no --save '' --appendonly yes --appendfsync "$APPENDFSYNC" \
    --maxmemory-policy noeviction --protected-mode yes --logfile '')
}

build_etcd() {
  free_port
  local client=$FREE_PORT
  free_port
  local peer=$FREE_PORT
  LISTEN[etcd]=127.0.0.1:$client
  EXTRA[etcd]="\"peer\":$(json_str "127.0.0.1:$peer")"
  ETCD_ADDR=${LISTEN[etcd]}
  # A single member: the peer URL is never dialled, but etcd wants one.
  CMD[etcd]=$(printf '%q ' "$(find_server etcd)" --name parley --data-dir "$DATA_DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
    --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "parley=http://127.0.0.1:$peer" --initial-cluster-state new \
    --auto-compaction-mode periodic --auto-compaction-retention 1h --logger zap --log-outputs stderr)
}

# mariadbd refuses to run as root unless told so.
mariadb_user_args() { [[ $(id -u) == 0 ]] && printf '%q ' --user=root; }

build_mariadb() {
  free_port
  LISTEN[mariadb]=127.0.0.1:$FREE_PORT
  EXTRA[mariadb]="\"socket\":$(json_str "$MARIADB_SOCK")"
  CMD[mariadb]="$(printf '%q ' "$(find_server mariadbd)" --no-defaults --datadir="$DATA_DIR/mariadb" \
    --socket="$MARIADB_SOCK" --port="$FREE_PORT" --bind-address=127.0.0.1 \
    --pid-file="$DATA_DIR/mariadb.pid" --skip-name-resolve --innodb-buffer-pool-size=64M \
    --innodb-log-file-size=16M --max-connections=500)$(mariadb_user_args)"
}

# First run only: an empty MariaDB data dir, built aside and renamed into
# place so that a kill during the install leaves nothing half made.
install_mariadb() {
  [[ -d $DATA_DIR/mariadb/mysql ]] && return 0
  local tmp=$DATA_DIR/mariadb.installing
  rm -rf "$tmp"
  log "initializing MariaDB in $DATA_DIR/mariadb"
  # --user names the OS account whose unix socket login is MariaDB's admin.
  if ! "$(find_server mariadb-install-db)" --no-defaults --datadir="$tmp" --user="$DB_ADMIN" \
    --auth-root-authentication-method=socket --auth-root-socket-user="$DB_ADMIN" \
    --skip-test-db --skip-name-resolve --innodb-log-file-size=16M --innodb-buffer-pool-size=64M \
    >>"$DATA_DIR/logs/mariadb-install.log" 2>&1; then
    tail -n 25 "$DATA_DIR/logs/mariadb-install.log" >&2
    die "mariadb-install-db failed (log: $DATA_DIR/logs/mariadb-install.log)"
  fi
  mv "$tmp" "$DATA_DIR/mariadb"
}

# After a cluster on this directory was killed, its processes' etcd leases
# outlive them: etcd restores them when it starts, with their TTL afresh, and
# the node ids and task partitions held under them stay taken until they
# lapse. This etcd serves this directory's cluster only, and the directory's
# lock says none of its processes lives: every lease in it is a dead
# process's, so revoke them all rather than wait.
revoke_dead_leases() {
  local port=${LISTEN[etcd]##*:} reply id n=0
  reply=$(http_request POST 127.0.0.1 "$port" /v3/lease/leases '{}') || return 0
  while [[ $reply =~ \"ID\":\"([0-9]+)\" ]]; do
    id=${BASH_REMATCH[1]}
    reply=${reply#*"${BASH_REMATCH[0]}"}
    http_request POST 127.0.0.1 "$port" /v3/lease/revoke "{\"ID\":\"$id\"}" >/dev/null && ((++n))
  done
  ((n)) && log "revoked $n etcd leases left by the processes of the previous run"
  return 0
}

# The database and the account Parley uses; idempotent, run on every start.
setup_database() {
  local pwfile=$DATA_DIR/mysql-password pw
  if [[ ! -s $pwfile ]]; then
    (umask 077 && random_hex >"$pwfile.tmp") && mv "$pwfile.tmp" "$pwfile"
  fi
  pw=$(<"$pwfile")
  "$(find_server mariadb)" --no-defaults --protocol=socket -S "$MARIADB_SOCK" -u "$DB_ADMIN" <<SQL ||
CREATE DATABASE IF NOT EXISTS parley CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE USER IF NOT EXISTS 'parley'@'127.0.0.1' IDENTIFIED BY '$pw';
CREATE USER IF NOT EXISTS 'parley'@'localhost' IDENTIFIED BY '$pw';
GRANT ALL PRIVILEGES ON parley.* TO 'parley'@'127.0.0.1';
GRANT ALL PRIVILEGES ON parley.* TO 'parley'@'localhost';
SQL
    return 1
  MYSQL_DSN="mysql://parley:$pw@${LISTEN[mariadb]}/parley"
}

# Flags every parley command takes (migrate included).
base_parley_args() {
  [[ -n $CONFIG ]] && printf '%q ' --config "$CONFIG"
  [[ -n $LOG_FORMAT ]] && printf '%q ' --log-format "$LOG_FORMAT"
  [[ -n $LOG_LEVEL ]] && printf '%q ' --log-level "$LOG_LEVEL"
  [[ -n $THREADS ]] && printf '%q ' --threads "$THREADS"
  return 0
}

# Where clients are told to open WebSockets: by default every connect node
# advertises the api's /ws (which proxies to a live connect node), so that
# /api/v1/endpoints names one stable entry; --direct-ws advertises each
# node's own address instead.
connect_public_url() {
  if ((DIRECT_WS)); then
    printf 'ws://%s:%s/ws' "$PUBLIC_HOST" "${1##*:}"
  elif [[ -n $PUBLIC_WS_URL ]]; then
    printf '%s' "$PUBLIC_WS_URL"
  else
    printf 'ws://%s:%s/ws' "$PUBLIC_HOST" "$PORT"
  fi
}

build_parley() {
  local n=$1 role=${ROLE[$1]} cmd
  NODE[$n]=$n
  cmd="$(printf '%q ' "$BIN" "$role" --node-id "$n" --etcd "$ETCD_ADDR" --partitions "$PARTITIONS")"
  cmd+=$(base_parley_args)
  case $role in
    logic)
      free_port
      GRPC[$n]=127.0.0.1:$FREE_PORT
      free_port
      LISTEN[$n]=127.0.0.1:$FREE_PORT
      cmd+=$(printf '%q ' --redis "$REDIS_ADDR" --mysql "$MYSQL_DSN" --grpc-listen "${GRPC[$n]}" --listen "${LISTEN[$n]}")
      [[ -n $HASH_COST ]] && cmd+=$(printf '%q ' --password-hash-cost "$HASH_COST")
      ;;
    task)
      free_port
      LISTEN[$n]=127.0.0.1:$FREE_PORT
      cmd+=$(printf '%q ' --redis "$REDIS_ADDR" --mysql "$MYSQL_DSN" --listen "${LISTEN[$n]}")
      ;;
    connect)
      free_port
      GRPC[$n]=127.0.0.1:$FREE_PORT
      free_port
      LISTEN[$n]=127.0.0.1:$FREE_PORT
      free_port
      ADMIN[$n]=127.0.0.1:$FREE_PORT
      cmd+=$(printf '%q ' --listen "${LISTEN[$n]}" --grpc-listen "${GRPC[$n]}" \
        --public-ws-url "$(connect_public_url "${LISTEN[$n]}")" --admin-listen "${ADMIN[$n]}")
      ;;
    api)
      LISTEN[$n]=127.0.0.1:$PORT
      # /metrics: each api process on its own port (the public one is shared).
      free_port
      ADMIN[$n]=127.0.0.1:$FREE_PORT
      cmd+=$(printf '%q ' --listen "${LISTEN[$n]}" --admin-listen "${ADMIN[$n]}")
      [[ -n $WEB_ROOT ]] && cmd+=$(printf '%q ' --web-root "$WEB_ROOT")
      [[ -n $HASH_COST ]] && cmd+=$(printf '%q ' --password-hash-cost "$HASH_COST")
      ;;
  esac
  CMD[$n]=$cmd
}

build_cmd() {
  case ${ROLE[$1]} in
    redis) build_redis ;;
    etcd) build_etcd ;;
    mariadb) build_mariadb ;;
    *) build_parley "$1" ;;
  esac
}

# Starts NAMEs together and waits for each; a process that lost its port to
# someone else gets new ports and another try (the api's port is given, so
# it gets none).
start_group() {
  local n
  for n in "$@"; do spawn "$n"; done
  await_group "$@"
}

# Waits for NAMEs, already spawned, as start_group does.
await_group() {
  local n tries deadline
  for n in "$@"; do
    deadline=$((SECONDS + START_TIMEOUT))
    for ((tries = 1; ; tries++)); do
      wait_ready "$n" && break
      if ((tries < 4)) && [[ ${ROLE[$n]} != api ]] && lost_port_race "$n"; then
        log "$n lost its port to another process; new ports, try $((tries + 1))"
        stop_process "$n" KILL 5
        PORTS_SCANNED=0 # the tables changed under us: read them again
        build_cmd "$n"
        spawn "$n"
        continue
      fi
      if ((SECONDS < deadline)) && ((!ALIVE[$n])) && node_id_still_held "$n"; then
        log "$n: its node id is still held by a dead process's lease; trying again"
        sleep 0.5
        spawn "$n"
        continue
      fi
      return 1
    done
  done
}

# ---------------------------------------------------------------------------
# cluster.json: one process per line, so that `status` reads it without a
# JSON parser; written whole to a temp file and renamed.

write_cluster_json() {
  local f=$DATA_DIR/cluster.json n out q1 q2 q3 q4 sep=''
  json_str_to q1 "$DATA_DIR"
  json_str_to q2 "$APPENDFSYNC"
  printf -v out '{"port":%s,"data_dir":%s,"launcher_pid":%s,"appendfsync":%s,"partitions":%s,' \
    "${PORT:-null}" "$q1" "$$" "$q2" "$PARTITIONS"
  json_str_to q1 "$REDIS_ADDR"
  json_str_to q2 "$ETCD_ADDR"
  json_str_to q3 "$MYSQL_DSN"
  json_str_to q4 "${BIN:-}"
  out+="\"redis\":$q1,\"etcd\":$q2,\"mysql\":$q3,\"bin\":$q4,"$'\n''"processes":['$'\n'
  for n in "${NAMES[@]}"; do
    out+=$sep
    sep=$',\n'
    json_str_to q1 "$n"
    json_str_to q2 "${ROLE[$n]}"
    out+="{\"name\":$q1,\"role\":$q2"
    if [[ -n ${NODE[$n]:-} ]]; then
      json_str_to q1 "${NODE[$n]}"
      out+=",\"node_id\":$q1"
    fi
    out+=",\"pid\":${PID[$n]:-null},\"alive\":"
    if ((ALIVE[$n])); then out+=true; else out+=false; fi
    [[ -n ${STATUS[$n]:-} ]] && out+=",\"exit_status\":${STATUS[$n]}"
    json_str_to q1 "${LISTEN[$n]}"
    out+=",\"listen\":$q1"
    if [[ -n ${GRPC[$n]:-} ]]; then
      json_str_to q1 "${GRPC[$n]}"
      out+=",\"grpc\":$q1"
    fi
    # Where /metrics is: "admin" for api and connect, "listen" for logic and task.
    if [[ -n ${ADMIN[$n]:-} ]]; then
      json_str_to q1 "${ADMIN[$n]}"
      out+=",\"admin\":$q1"
    fi
    [[ -n ${EXTRA[$n]:-} ]] && out+=",${EXTRA[$n]}"
    json_str_to q1 "${LOGF[$n]}"
    json_str_to q2 "${CMD[$n]}"
    out+=",\"log\":$q1,\"command\":$q2}"
  done
  out+=$'\n'']}'
  printf '%s\n' "$out" >"$f.tmp" && mv -f "$f.tmp" "$f"
}

# ---------------------------------------------------------------------------
# run: the supervisor.

SHUTTING_DOWN=0
READY=0
SLEEPER=''
STOP_SIGNAL='' # set by the signal traps of the main loop

# Stops everything that runs, in order, and exits: with CODE (default 0),
# or 1 if a parley process had to be killed or exited non-zero after SIGTERM
# (a bug worth a failure).
shutdown() {
  local why=$1 code=${2:-0} n r
  ((SHUTTING_DOWN)) && return
  SHUTTING_DOWN=1
  trap '' TERM INT HUP
  [[ -n $SLEEPER ]] && kill "$SLEEPER" 2>/dev/null
  log "stopping ($why)"
  for r in "${STOP_ORDER[@]}" etcd mariadb redis; do
    local -a group=()
    for n in "${NAMES[@]}"; do
      [[ ${ROLE[$n]} == "$r" ]] && ((ALIVE[$n])) && group+=("$n")
    done
    ((${#group[@]})) || continue
    for n in "${group[@]}"; do kill -s TERM "${PID[$n]}" 2>/dev/null; done
    for n in "${group[@]}"; do
      if ! wait_stopped "$n" TERM 30; then
        code=1
      elif [[ ${STATUS[$n]} != 0 ]]; then
        log "$n exited with status ${STATUS[$n]} after SIGTERM"
        [[ $r == redis || $r == mariadb || $r == etcd ]] || code=1
      fi
    done
  done
  rm -f "$DATA_DIR/cluster.json" "$DATA_DIR/cluster.pid"
  rm -rf "$DATA_DIR/control"
  log "stopped"
  exit "$code"
}

# Notices children that died, and records it in cluster.json.
reap() {
  local n changed=0
  for n in "${NAMES[@]}"; do
    ((ALIVE[$n])) || continue
    pid_alive "${PID[$n]}" && continue
    record_exit "$n"
    changed=1
    log "$n (pid ${PID[$n]}) exited with status ${STATUS[$n]}"
  done
  ((changed && READY)) && write_cluster_json
  return 0
}

# Requests from `cluster.sh stop|start|restart NAME`: D/control/ID.req holds
# "VERB NAME SIGNAL"; the answer goes to D/control/ID.done.
serve_requests() {
  local req verb n sig answer
  for req in "$DATA_DIR"/control/*.req; do
    [[ -e $req ]] || continue
    read -r verb n sig <"$req" || true
    rm -f "$req"
    answer=ok
    if [[ -z ${ROLE[$n]:-} ]]; then
      answer="error: no process named '$n' (see cluster.json)"
    else
      reap
      if [[ $verb == stop || $verb == restart ]] && ((ALIVE[$n])); then
        log "$verb $n: SIG$sig to pid ${PID[$n]}"
        stop_process "$n" "$sig" 30
        write_cluster_json
      fi
      if [[ $verb == start || $verb == restart ]]; then
        if ((ALIVE[$n])); then
          answer="error: $n already runs (pid ${PID[$n]})"
        else
          log "$verb $n: starting it again"
          spawn "$n"
          if await_group "$n"; then
            answer="ok pid ${PID[$n]}"
          else
            answer="error: $n did not start again (log: ${LOGF[$n]})"
          fi
          write_cluster_json
        fi
      fi
    fi
    printf '%s\n' "$answer" >"${req%.req}.tmp" && mv -f "${req%.req}.tmp" "${req%.req}.done"
  done
}

# Descriptors the caller left open (a build lock held with flock(1), say)
# must not live on in servers that may outlive a test: close all but stdio.
close_inherited_fds() {
  local fd
  for fd in /proc/$$/fd/*; do
    fd=${fd##*/}
    [[ $fd =~ ^[0-9]+$ ]] && ((fd > 2 && fd != 255)) || continue
    eval "exec $fd>&-" 2>/dev/null
  done
  return 0
}

cmd_run() {
  close_inherited_fds
  validate_run_options
  mkdir -p "$DATA_DIR/logs" "$DATA_DIR/redis" "$DATA_DIR/control" || die "cannot write to $DATA_DIR"
  # The lock is inherited by every child: while any process of a cluster on D
  # lives (even an orphan of a killed launcher), no second one starts on D.
  exec {LOCK_FD}>"$DATA_DIR/.lock"
  flock -w 20 "$LOCK_FD" || die "$DATA_DIR is in use by another cluster (see $DATA_DIR/cluster.pid)"
  echo $$ >"$DATA_DIR/cluster.pid"
  rm -f "$DATA_DIR/cluster.json" "$DATA_DIR"/control/*
  trap 'shutdown SIGTERM' TERM
  trap 'shutdown SIGINT' INT
  trap 'shutdown SIGHUP' HUP

  # Children may find the cluster's directory (test stand-ins use it).
  export PARLEY_CLUSTER_DIR=$DATA_DIR
  DB_ADMIN=$(id -un)
  MARIADB_SOCK=$DATA_DIR/mariadb.sock
  ((${#MARIADB_SOCK} < 100)) || MARIADB_SOCK=/tmp/parley-mariadb-$(printf '%s' "$DATA_DIR" | cksum | cut -d' ' -f1).sock

  add_name redis redis
  add_name etcd etcd
  add_name mariadb mariadb
  build_redis
  build_etcd
  spawn redis
  spawn etcd
  install_mariadb
  build_mariadb
  spawn mariadb
  await_group redis etcd mariadb || shutdown "a server did not start" 1
  revoke_dead_leases
  setup_database || shutdown "cannot create the parley database and user" 1

  if ((!SERVERS_ONLY)); then
    log "migrating the schema"
    local migrate_log=$DATA_DIR/logs/migrate.log
    # shellcheck disable=SC2046
    if ! eval "$(printf '%q ' "$BIN" migrate --mysql "$MYSQL_DSN")$(base_parley_args)" \
      >>"$migrate_log" 2>&1 </dev/null; then
      tail -n 25 "$migrate_log" >&2
      shutdown "parley migrate failed (log: $migrate_log)" 1
    fi
    local role i
    for role in "${PARLEY_ROLES[@]}"; do
      local -a group=()
      for ((i = 1; i <= COUNT[$role]; i++)); do
        add_name "$role-$i" "$role"
        build_parley "$role-$i"
        group+=("$role-$i")
      done
      start_group "${group[@]}" || shutdown "$role processes did not start" 1
    done
  fi

  READY=1
  write_cluster_json
  if ((SERVERS_ONLY)); then
    echo "cluster servers ready: redis $REDIS_ADDR, etcd $ETCD_ADDR, mysql ${LISTEN[mariadb]}"
  else
    echo "cluster listening on 127.0.0.1:$PORT"
  fi

  # From here on a signal only records itself, and the loop stops the
  # cluster. A trap that ran shutdown itself could land while bash parses
  # one of the loop's $(...) substitutions (reap, cluster.json), and bash 5.2
  # then fails with "unexpected EOF while looking for matching `)'", leaving
  # the processes behind.
  trap 'STOP_SIGNAL=SIGTERM' TERM
  trap 'STOP_SIGNAL=SIGINT' INT
  trap 'STOP_SIGNAL=SIGHUP' HUP
  while :; do
    [[ -n $STOP_SIGNAL ]] && shutdown "$STOP_SIGNAL"
    reap
    serve_requests
    [[ -n $STOP_SIGNAL ]] && continue
    # A trapped signal interrupts `wait` at once; sleep in a child for that.
    sleep 0.2 &
    SLEEPER=$!
    wait "$SLEEPER" 2>/dev/null
    SLEEPER=''
  done
}

# ---------------------------------------------------------------------------
# up, down, status, stop/start/restart NAME.

cluster_lock_held() {
  [[ -e $DATA_DIR/.lock ]] || return 1
  ! flock -n "$DATA_DIR/.lock" true
}

launcher_pid() { cat "$DATA_DIR/cluster.pid" 2>/dev/null; }

cmd_up() {
  validate_run_options
  mkdir -p "$DATA_DIR/logs"
  cluster_lock_held && die "a cluster already runs on $DATA_DIR (pid $(launcher_pid))"
  local out=$DATA_DIR/logs/cluster.log off
  touch "$out"
  off=$(stat -c %s "$out")
  rm -f "$DATA_DIR/cluster.pid"
  # Its own session and process group, stdio on the log: it outlives us.
  setsid "$SELF" run "${RUN_ARGS[@]}" >>"$out" 2>&1 </dev/null &
  local child=$! deadline=$((SECONDS + START_TIMEOUT * 4 + 60)) pid
  while :; do
    if tail -c +$((off + 1)) "$out" | grep -qE '^cluster (listening on|servers ready)'; then
      tail -c +$((off + 1)) "$out" | grep -E '^cluster (listening on|servers ready)'
      echo "launcher pid $(launcher_pid); logs in $DATA_DIR/logs"
      return 0
    fi
    pid=$(launcher_pid)
    if ! pid_alive "${pid:-$child}"; then
      tail -c +$((off + 1)) "$out" | tail -n 40 >&2
      die "the cluster did not start (log: $out)"
    fi
    ((SECONDS < deadline)) || die "the cluster was not ready in time (log: $out)"
    sleep 0.1
  done
}

cmd_down() {
  [[ -n $DATA_DIR ]] || die "--data-dir is required"
  local pid
  pid=$(launcher_pid)
  if [[ -z $pid ]] || ! pid_alive "$pid"; then
    cluster_lock_held && die "no launcher runs on $DATA_DIR, but some of its processes do (lock held)"
    echo "not running"
    return 0
  fi
  kill -s TERM "$pid"
  local deadline=$((SECONDS + 180))
  while pid_alive "$pid" || cluster_lock_held; do
    ((SECONDS < deadline)) || die "the cluster did not stop within 180 s (pid $pid)"
    sleep 0.1
  done
  echo "stopped"
}

# Prints the state of every process; exit 0 if all run, 1 if some do not,
# 3 if the cluster does not run.
cmd_status() {
  [[ -n $DATA_DIR ]] || die "--data-dir is required"
  local f=$DATA_DIR/cluster.json pid running=1 all=1 line name p alive
  pid=$(launcher_pid)
  [[ -n $pid ]] && pid_alive "$pid" && [[ -r $f ]] || running=0
  if ((!running)); then
    if ((JSON_OUT)); then
      printf '{"running":false,"data_dir":%s,"processes":[]}\n' "$(json_str "$DATA_DIR")"
    else
      echo "not running ($DATA_DIR)"
    fi
    return 3
  fi
  local out=''
  while IFS= read -r line; do
    if [[ $line =~ \"name\":\"([^\"]*)\".*\"pid\":([0-9]+) ]]; then
      name=${BASH_REMATCH[1]} p=${BASH_REMATCH[2]}
      alive=false
      pid_alive "$p" && alive=true
      [[ $alive == true ]] || all=0
      line=${line/\"alive\":true/\"alive\":$alive}
      if ((!JSON_OUT)); then
        local role=${line#*\"role\":\"} listen=${line#*\"listen\":\"}
        printf '%-10s %-8s pid %-8s %-6s %s\n' "$name" "${role%%\"*}" "$p" \
          "$([[ $alive == true ]] && echo up || echo DOWN)" "${listen%%\"*}"
      fi
    elif [[ $line == '{"port"'* ]]; then
      line="{\"running\":true,${line#\{}"
    fi
    out+=$line$'\n'
  done <"$f"
  ((JSON_OUT)) && printf '%s' "$out"
  ((all)) || return 1
  return 0
}

cmd_control() {
  local verb=$1
  [[ -n $DATA_DIR ]] || die "--data-dir is required"
  [[ -n $TARGET ]] || die "$verb needs a process name (see cluster.sh status)"
  [[ $SIGNAL =~ ^[A-Z0-9]+$ ]] || die "bad --signal $SIGNAL"
  local pid id answer deadline
  pid=$(launcher_pid)
  [[ -n $pid ]] && pid_alive "$pid" || die "no cluster runs on $DATA_DIR"
  [[ -d $DATA_DIR/control ]] || die "no cluster runs on $DATA_DIR"
  id=$$-$(random_hex)
  printf '%s %s %s\n' "$verb" "$TARGET" "$SIGNAL" >"$DATA_DIR/control/$id.tmp"
  mv "$DATA_DIR/control/$id.tmp" "$DATA_DIR/control/$id.req"
  deadline=$((SECONDS + START_TIMEOUT + 60))
  while [[ ! -e $DATA_DIR/control/$id.done ]]; do
    pid_alive "$pid" || die "the launcher exited before answering"
    ((SECONDS < deadline)) || die "no answer from the launcher (pid $pid)"
    sleep 0.05
  done
  answer=$(<"$DATA_DIR/control/$id.done")
  rm -f "$DATA_DIR/control/$id.done"
  echo "$answer"
  [[ $answer == ok* ]]
}

main() {
  (($#)) || { usage; exit 2; }
  local sub=$1
  shift
  RUN_ARGS=("$@")
  parse_options "$@"
  case $sub in
    run) cmd_run ;;
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    stop | start | restart) cmd_control "$sub" ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
