# shellcheck shell=bash
# Which PostgreSQL server runs from a data folder, and stopping it within a bound. Source this
# file after postgres.sh and processes.sh; it defines functions only.

# pg_server_pid DATA_DIR: prints the postmaster's PID when a PostgreSQL server is running from
# DATA_DIR: its postmaster.pid names that folder and a live postgres process started with it.
# Fails otherwise (no server, or a stale postmaster.pid whose PID is gone or reused).
pg_server_pid() {
  local data=$1 pid dir args
  [ -f "$data/postmaster.pid" ] || return 1
  { read -r pid && read -r dir; } <"$data/postmaster.pid" 2>/dev/null || return 1
  [[ $pid =~ ^[0-9]+$ ]] && [ "$dir" = "$data" ] || return 1
  process_alive "$pid" || return 1
  args=$(process_args "$pid")
  [[ $args == *postgres* && $args == *"$data"* ]] || return 1
  echo "$pid"
}

# pg_server_port DATA_DIR: the port the server running from DATA_DIR listens on (from its
# postmaster.pid); empty when none runs.
pg_server_port() {
  pg_server_pid "$1" >/dev/null || return 0
  sed -n '4p' "$1/postmaster.pid" 2>/dev/null
}

# pg_configured_port DATA_DIR: the port DATA_DIR's configuration names (postgresql.auto.conf
# wins over postgresql.conf, the last setting in a file wins); empty when none is set.
pg_configured_port() {
  local file found port=""
  for file in "$1/postgresql.conf" "$1/postgresql.auto.conf"; do
    [ -f "$file" ] || continue
    found=$(sed -n "s/^[[:space:]]*port[[:space:]]*=[[:space:]]*'\{0,1\}\([0-9][0-9]*\).*/\1/p" "$file" | tail -n 1)
    if [ -n "$found" ]; then port=$found; fi
  done
  echo "$port"
}

# pg_stop_bounded DATA_DIR SECONDS [fast|immediate]: stops the server running from DATA_DIR, if
# any (checked with pg_server_pid, so a stale postmaster.pid never gets an unrelated process
# signalled). pg_ctl gets SECONDS; after that the postmaster gets SIGQUIT (immediate shutdown)
# and 5 more seconds, then SIGKILL. Says what it had to do beyond pg_ctl.
pg_stop_bounded() {
  local data=$1 seconds=$2 mode=${3:-fast} pid n
  pid=$(pg_server_pid "$data") || return 0
  if pg_as_owner "$PG_BIN/pg_ctl" -D "$data" -m "$mode" -w -t "$seconds" stop >/dev/null 2>&1; then
    return 0
  fi
  process_alive "$pid" || return 0
  echo "PostgreSQL from $data (pid $pid) did not stop within ${seconds}s (pg_ctl -m $mode); sent SIGQUIT" >&2
  kill -QUIT "$pid" 2>/dev/null || true
  for ((n = 0; n < 25; n++)); do
    process_alive "$pid" || return 0
    sleep 0.2
  done
  echo "PostgreSQL from $data (pid $pid) ignored SIGQUIT for 5s; killed it" >&2
  kill -KILL "$pid" 2>/dev/null || true
  return 0
}
