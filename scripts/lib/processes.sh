# shellcheck shell=bash
# Helpers for scripts that start local servers and must never touch what they did not start:
# process checks, port checks and a PID lock file. Source this file; it defines functions only.

# process_alive PID: whether PID is a running process (not a zombie waiting to be reaped).
# `kill -0` alone is not enough: it succeeds for zombies, and fails for other users' processes.
process_alive() {
  local stat
  stat=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [ -n "$stat" ] && [[ $stat != Z* ]]
}

# process_args PID: the command line of PID (empty when there is no such process).
process_args() {
  ps -o args= -p "$1" 2>/dev/null || true
}

# port_in_use PORT: whether something accepts TCP connections on 127.0.0.1:PORT. A listener on
# 0.0.0.0 or a dual-stack :: answers there too, and would make our bind fail all the same.
port_in_use() {
  # shellcheck disable=SC2016 # $1 is the inner shell's
  local probe=(bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1")
  # A listener that never completes the handshake must not stall the check.
  if command -v timeout >/dev/null; then probe=(timeout 2 "${probe[@]}"); fi
  "${probe[@]}" 2>/dev/null
}

# port_holder PORT: "PID NAME" of the process listening on 127.0.0.1:PORT, when ss or lsof can
# tell (not always: another user's process, without root); prints nothing otherwise.
port_holder() {
  local line name="" pid=""
  if command -v ss >/dev/null; then
    line=$(ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'users:(("[^"]*",pid=[0-9]*' | head -n 1) || true
    name=$(sed -n 's/^users:(("\([^"]*\)".*/\1/p' <<<"$line")
    pid=$(sed -n 's/.*pid=\([0-9]*\)$/\1/p' <<<"$line")
  elif command -v lsof >/dev/null; then
    line=$(lsof -nP -iTCP:"$1" -sTCP:LISTEN -Fpc 2>/dev/null | head -n 2 | tr '\n' ' ') || true
    pid=$(sed -n 's/^p\([0-9]*\) .*/\1/p' <<<"$line")
    name=$(sed -n 's/.* c\(.*\) $/\1/p' <<<"$line")
  fi
  if [ -n "$pid" ]; then echo "$pid ${name:-?}"; fi
}

# pid_lock FILE COMMAND: takes the lock FILE for this shell by creating it, atomically, with
# this shell's PID. When the file names a live process whose command line runs COMMAND (a
# script path ending in /COMMAND), prints that PID and fails: the lock is taken. A file left by
# a process that is gone (or whose PID now belongs to something else) is taken over.
pid_lock() {
  local file=$1 command=$2 owner word
  for _ in 1 2 3; do
    if (set -o noclobber; echo "$$" >"$file") 2>/dev/null; then return 0; fi
    owner=$(head -n 1 "$file" 2>/dev/null) || owner=""
    if [[ $owner =~ ^[0-9]+$ ]] && process_alive "$owner"; then
      for word in $(process_args "$owner"); do
        if [ "$word" = "$command" ] || [[ $word == */"$command" ]]; then
          echo "$owner"
          return 1
        fi
      done
    fi
    # A stale lock. Removing it and creating ours again (atomically) leaves a tiny window in
    # which two processes taking over the same stale lock could both win; the create is what
    # decides between two live ones.
    rm -f "$file"
  done
  echo "unknown"
  return 1
}

# pid_unlock FILE: removes the lock FILE, only if this shell holds it.
pid_unlock() {
  [ "$(head -n 1 "$1" 2>/dev/null)" = "$$" ] && rm -f "$1"
  return 0
}
