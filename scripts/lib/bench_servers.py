"""The throwaway servers of scripts/bench-http and scripts/bench-live: the release build, a
PostgreSQL primary and streaming replica on free loopback ports, and app instances, with the
/proc figures both report. Every process here is started by the caller and stopped by its PID.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DATABASE = "users_bench"
SECRET = "bench-only-secret-key-base-0123456789abcdef"
# As the Dockerfile builds it (static Swift runtime), in its own folder like scripts/build-release.
RELEASE_BUILD = ["swift", "build", "-c", "release", "--static-swift-stdlib", "--product", "App", "--scratch-path", ".build-release"]


def release_binary(product="App", build=True):
    """The path of `product`'s release binary in .build-release/, built first when `build`."""
    command = RELEASE_BUILD[:RELEASE_BUILD.index("--product") + 1] + [product] + RELEASE_BUILD[RELEASE_BUILD.index("--product") + 2:]
    if build:
        subprocess.run(command, cwd=ROOT, check=True)
    folder = subprocess.run(command + ["--show-bin-path"], cwd=ROOT, check=True, text=True, capture_output=True).stdout.strip()
    return os.path.join(folder, product)


def stop_on_sigterm():
    """Makes SIGTERM end the script as Ctrl-C does, through its `finally` blocks, so the servers
    it started are stopped."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))


def sh(script, **kwargs):
    """Runs bash with scripts/lib/postgres.sh loaded and PG_BIN set."""
    return subprocess.run(["bash", "-c", f". scripts/lib/postgres.sh; pg_find_binaries; {script}"],
                          cwd=ROOT, check=True, text=True, capture_output=True, **kwargs).stdout


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def rss_mb(pid):
    """The resident set size of `pid` in MB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid):
    """User plus system CPU time that process `pid` has used, in seconds."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Cluster:
    """A throwaway primary and streaming replica; `stop` ends both."""

    def __init__(self, work):
        self.work = work
        self.primary_port, self.replica_port = free_port(), free_port()
        self.primary, self.replica = os.path.join(work, "primary"), os.path.join(work, "replica")

    def start(self):
        sh(f'pg_init_primary "{self.primary}" {self.primary_port} fast && pg_start "{self.primary}" "{self.work}/primary.log"'
           f' && pg_psql {self.primary_port} -c "CREATE DATABASE {DATABASE}"'
           f' && pg_init_replica {self.primary_port} "{self.replica}" {self.replica_port} && pg_start "{self.replica}" "{self.work}/replica.log"')

    def prepare(self, binary, users):
        """Migrates with `binary`, seeds `users` users and waits until the replica has them."""
        subprocess.run([binary, "migrate", "--directory", os.path.join(ROOT, "Migrations")], check=True, capture_output=True,
                       env={"PATH": os.environ["PATH"], "DATABASE_URL": self.url(self.primary_port)})
        self.psql(self.primary_port, f"INSERT INTO users (name, age) SELECT 'User ' || g, g % 100 FROM generate_series(1, {users}) g")
        lsn = self.psql(self.primary_port, "SELECT pg_current_wal_lsn()").strip()
        while self.psql(self.replica_port, f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'").strip() != "t":
            time.sleep(0.1)

    def url(self, port):
        return f"postgres://postgres@127.0.0.1:{port}/{DATABASE}?sslmode=disable"

    def psql(self, port, sql):
        return sh(f'pg_psql {port} -d {DATABASE} -tAc "{sql}"')

    def stop(self):
        for data in (self.replica, self.primary):
            try:
                sh(f'pg_stop "{data}"')
            except subprocess.CalledProcessError:
                pass


class Instance:
    """One server process; `stop` ends it (SIGTERM, then SIGKILL after 15 s)."""

    def __init__(self, command, env, log_name, work):
        self.port = free_port()
        self.metrics_port = int(env["METRICS_PORT"]) if "METRICS_PORT" in env else None
        env = {"PATH": os.environ["PATH"], "PORT": str(self.port), **env}
        self.log = open(os.path.join(work, log_name), "w")
        self.started = time.monotonic()
        self.process = subprocess.Popen(command, env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=work)

    @classmethod
    def app(cls, binary, region, cluster, replica, work, env=None, label=None):
        """`App serve` in `region`, reading from the replica when `replica`; `env` adds to or
        overrides its environment; `label` tells its log apart from another build's."""
        settings = {"FLY_REGION": region, "PRIMARY_REGION": "nrt", "WRITE_MODE": "replay", "HOST": "127.0.0.1",
                    "METRICS_PORT": str(free_port()), "LOG_LEVEL": "warning", "SECRET_KEY_BASE": SECRET,
                    "DATABASE_URL": cluster.url(cluster.primary_port), "PUBLIC_DIR": os.path.join(ROOT, "Public")}
        if replica:
            settings["REPLICA_DATABASE_URL"] = cluster.url(cluster.replica_port)
        return cls([binary, "serve"], {**settings, **(env or {})}, f"app-{region}{'-' + label if label else ''}.log", work)

    @classmethod
    def baseline(cls, binary, cluster, work):
        """The `Baseline` server (stock Hummingbird and PostgresNIO) reading from the replica."""
        env = {"PGHOST": "127.0.0.1", "PGPORT": str(cluster.replica_port), "PGUSER": "postgres", "PGDATABASE": DATABASE}
        return cls([binary], env, "baseline.log", work)

    def base(self):
        return f"http://127.0.0.1:{self.port}"

    def wait_for_first_200(self, path):
        """Seconds from process start to the first 200 on `path` (at most 60)."""
        while time.monotonic() - self.started < 60:
            if self.process.poll() is not None:
                self.log.flush()
                with open(self.log.name) as log:
                    tail = "".join(log.readlines()[-20:])
                raise RuntimeError(f"the server exited ({self.process.returncode}) before answering {path}; its output ends:\n{tail}")
            try:
                with urllib.request.urlopen(self.base() + path, timeout=1) as answer:
                    if answer.status == 200:
                        return time.monotonic() - self.started
            except OSError:
                time.sleep(0.005)
        raise RuntimeError(f"the app did not answer {path} within 60 s")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
