# Shared helpers for scripts/dev and scripts/test: a local PostgreSQL primary and
# streaming replicas on loopback. Source this file; it defines functions only.

# Finds PostgreSQL's server binaries (installing Debian's package when missing and possible)
# and sets PG_BIN.
pg_find_binaries() {
  local candidate
  for candidate in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin "$(pg_config --bindir 2>/dev/null)"; do
    if [ -x "$candidate/initdb" ] && [ -x "$candidate/pg_basebackup" ]; then
      PG_BIN=$candidate
      return 0
    fi
  done
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "PostgreSQL is not installed; installing Debian's postgresql package..." >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2 || return 1
    # The package starts a cluster of its own on port 5432; it is not ours to use.
    command -v pg_ctlcluster >/dev/null && pg_ctlcluster 15 main stop >/dev/null 2>&1 || true
    pg_find_binaries
    return $?
  fi
  echo "PostgreSQL server binaries (initdb, pg_basebackup) were not found." >&2
  echo "Install PostgreSQL 15: 'sudo apt-get install postgresql' on Debian/Ubuntu, 'brew install postgresql@15' on macOS." >&2
  return 1
}

# Runs a command as the owner of the data folders: PostgreSQL refuses to run as root, so
# under root that is the 'postgres' system user (created when missing).
pg_as_owner() {
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# Makes a folder the data owner can use.
pg_own() {
  mkdir -p "$1"
  if [ "$(id -u)" = 0 ]; then chown -R postgres "$1"; fi
}

# Prints a free TCP port on 127.0.0.1.
pg_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# pg_init_primary DATA_DIR PORT [fast]: a new primary that accepts replication on loopback.
# 'fast' turns off durability, for throwaway test clusters only.
pg_init_primary() {
  local data=$1 port=$2 mode=${3:-}
  pg_own "$(dirname "$data")"
  pg_as_owner "$PG_BIN/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null || return 1
  cat >>"$data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = ''
wal_level = replica
max_wal_senders = 10
hot_standby = on
hot_standby_feedback = on
wal_keep_size = '256MB'
max_connections = 200
CONF
  if [ "$mode" = fast ]; then
    printf 'fsync = off\nsynchronous_commit = on\nfull_page_writes = off\n' >>"$data/postgresql.conf"
  fi
  printf 'host all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n' >"$data/pg_hba.conf"
}

# pg_init_replica PRIMARY_PORT DATA_DIR PORT: a streaming replica of the primary (pg_basebackup -R).
pg_init_replica() {
  local primary_port=$1 data=$2 port=$3
  pg_own "$(dirname "$data")"
  pg_as_owner "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$primary_port" -U postgres -D "$data" -R -X stream -c fast >/dev/null || return 1
  # Reconnect to a restarted primary within a second (the default waits 5 s), so replicas
  # catch up soon after the primary comes back.
  printf 'port = %s\nwal_retrieve_retry_interval = 1s\n' "$port" >>"$data/postgresql.auto.conf"
}

# pg_start DATA_DIR LOG_FILE
pg_start() {
  pg_as_owner "$PG_BIN/pg_ctl" -D "$1" -l "$2" -w -t 60 start >/dev/null
}

# pg_stop DATA_DIR: stops the server that runs from DATA_DIR, if any, by its process id.
pg_stop() {
  [ -f "$1/postmaster.pid" ] || return 0
  pg_as_owner "$PG_BIN/pg_ctl" -D "$1" -m fast -w -t 60 stop >/dev/null 2>&1 || {
    local pid
    pid=$(head -1 "$1/postmaster.pid" 2>/dev/null) && [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
  }
}

# pg_psql PORT SQL...: runs SQL on the server at PORT.
pg_psql() {
  local port=$1
  shift
  pg_as_owner "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres "$@"
}
