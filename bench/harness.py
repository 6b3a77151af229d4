"""Shared benchmark machinery: a scratch database, a real server process, a closed-loop load
generator and the statistics.

Everything talks to 127.0.0.1 only. The load generator runs on the same machine as the server,
so absolute figures depend on the machine and on what else it is doing; each benchmark
therefore measures a trivial baseline endpoint in the same run and reports ratios.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

REPO = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO / "bench" / "results"
HOST = "127.0.0.1"
SETTINGS_MODULE = "weifei.settings.dev"


# --------------------------------------------------------------------------- environment


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _cpu_model() -> str:
    for line in _read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _mem_total_mb() -> int | None:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return None


def _package_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _git() -> dict[str, object]:
    def run(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    return {"commit": run("rev-parse", "HEAD") or None, "dirty": bool(run("status", "--porcelain"))}


def database_url() -> str:
    return os.environ.get("DATABASE_URL", "").strip()


def database_description(url: str) -> dict[str, object]:
    """Vendor and server version of the database the bench server will use."""
    if not url:
        import sqlite3

        return {"vendor": "sqlite", "version": sqlite3.sqlite_version}
    scheme = urlsplit(url).scheme
    info: dict[str, object] = {"vendor": "postgresql" if scheme.startswith("postgres") else scheme}
    if info["vendor"] == "postgresql":
        try:
            import psycopg

            with psycopg.connect(url, connect_timeout=5) as conn:
                info["version"] = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        except Exception as exc:  # describe, never fail the bench for it
            info["version"] = f"unknown ({exc.__class__.__name__})"
    parts = urlsplit(url)
    info["host"] = parts.hostname
    info["name"] = parts.path.lstrip("/")
    return info


def python_speed_ms(iterations: int = 5_000_000, repeats: int = 3) -> float:
    """CPU milliseconds of a fixed pure-Python loop (best of ``repeats``): how fast this machine's
    cores run Python today. Machines of the same kind differ by 2x and more here; figures from
    different runs compare only together with this one."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.process_time()
        total = 0
        for i in range(iterations):
            total += i
        best = min(best, time.process_time() - t0)
    return round(best * 1000, 1)


def machine_description() -> dict[str, object]:
    return {
        "python_loop_5m_ms": python_speed_ms(),
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_mb": _mem_total_mb(),
        "kernel": platform.platform(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def software_description() -> dict[str, object]:
    return {
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "django": _package_version("django"),
        "django_ninja": _package_version("django-ninja"),
        "uvicorn": _package_version("uvicorn"),
        "httpx": _package_version("httpx"),
        "git": _git(),
    }


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).astimezone().isoformat(timespec="seconds")


# --------------------------------------------------------------------------- database + server


def server_environment(var_dir: Path, settings: str = SETTINGS_MODULE) -> dict[str, str]:
    """The environment for every ``weifei`` subprocess: its own var dir, DEBUG off (Django keeps
    a log of every query when DEBUG is on), no broker (so /healthz checks the database only)."""
    env = dict(os.environ)
    env.update(
        {
            "WEIFEI_VAR_DIR": str(var_dir),
            "WEIFEI_DEBUG": "0",
            "WEIFEI_ALLOWED_HOSTS": f"{HOST},localhost",
            "DJANGO_SETTINGS_MODULE": settings,
            "CELERY_BROKER_URL": "",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def make_scratch_dir() -> Path:
    """A fresh WEIFEI_VAR_DIR: the SQLite database and the server logs live here."""
    path = Path(tempfile.mkdtemp(prefix="weifei-bench-"))
    # WhiteNoise warns at start-up when STATIC_ROOT is missing; the API needs no static files.
    (path / "static").mkdir()
    return path


def remove_scratch_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def log_errors(path: Path, limit: int = 8) -> list[str]:
    """The distinct exception lines of a server log, most frequent first, with their counts."""
    if not path.exists():
        return []
    counts: dict[str, int] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        text = re.sub(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ ", "", line.strip())
        if re.match(r"^[\w.]+(Error|Exception|Unavailable)\b.*", text) or re.match(r"^(ERROR|CRITICAL) ", text):
            counts[text[:300]] = counts.get(text[:300], 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])[:limit]
    return [f"{n}× {text}" for text, n in ranked]


def weifei_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "weifei.cli", *args]


def prepare_database(env: dict[str, str]) -> None:
    """Migrate and load the reference data (both idempotent) into the bench database."""
    for args in (("migrate", "--no-input", "-v", "0"), ("load-reference",)):
        done = subprocess.run(weifei_command(*args), cwd=REPO, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"weifei {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")


def django_in_process(var_dir: Path) -> None:
    """Migrate and load the reference data into ``DATABASE_URL`` (or an SQLite file in ``var_dir``)
    and set Django up in this process, its test client allowed: for the in-process profilers."""
    env = server_environment(var_dir)
    env["WEIFEI_ALLOWED_HOSTS"] += ",testserver"
    prepare_database(env)
    os.environ.update(env)
    import django

    django.setup()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass
class ServerKind:
    name: str
    description: str
    argv: Callable[[int], list[str]]


def uvicorn_kind(workers: int, app: str | None = None) -> ServerKind:
    """uvicorn's multi-worker supervisor with TCP_NODELAY (see bench/serve_uvicorn.py); ``app``
    another ASGI application (``bench.asgi_floor:application``: the HTTP floor, no Django)."""
    name, served = ("uvicorn", "weifei.asgi:application") if app is None else ("uvicorn-floor", app)
    return ServerKind(
        name=name,
        description=f"uvicorn {served}, {workers} workers, TCP_NODELAY (bench/serve_uvicorn.py)",
        argv=lambda port: [
            sys.executable,
            *f"-m bench.serve_uvicorn --host {HOST} --port {port} --workers {workers} --app {served}".split(),
        ],
    )


def uvicorn_stock_kind(workers: int) -> ServerKind:
    """The plain ``uvicorn --workers N`` command: Nagle stays on (Kludex/uvicorn#3149)."""
    return ServerKind(
        name="uvicorn-stock",
        description=f"uvicorn weifei.asgi:application --workers {workers} (stock CLI, no TCP_NODELAY)",
        argv=lambda port: [
            sys.executable,
            *f"-m uvicorn weifei.asgi:application --host {HOST} --port {port} --workers {workers}".split(),
            *"--no-access-log --lifespan off --log-level warning".split(),
        ],
    )


def runserver_kind() -> ServerKind:
    return ServerKind(
        name="runserver",
        description="weifei runserver --noreload (Django development server, one process, threaded)",
        argv=lambda port: weifei_command("runserver", f"{HOST}:{port}", "--noreload"),
    )


class Server:
    """A server subprocess in its own process group, so that stopping it stops its workers."""

    def __init__(self, kind: ServerKind, env: dict[str, str], log_dir: Path) -> None:
        self.kind = kind
        self.env = env
        self.port = free_port()
        self.base_url = f"http://{HOST}:{self.port}"
        self.log_path = log_dir / f"server-{kind.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, ready_path: str = "/healthz", timeout: float = 60.0) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.kind.argv(self.port),
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.base_url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.kind.name} exited with {self.proc.returncode}; see {self.log_path}")
                try:
                    if client.get(ready_path).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
        raise RuntimeError(f"{self.kind.name} did not answer {ready_path} within {timeout:.0f}s")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def cpu_seconds(self) -> float:
        """User + system CPU of the server process and all its descendants (Linux /proc)."""
        if self.proc is None:
            return 0.0
        return process_tree_cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        pgid = self.proc.pid  # start_new_session: the group is ours alone
        for sig, wait in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def __enter__(self) -> Server:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def machine_busy_cpu_seconds() -> float:
    """CPU seconds spent by the whole machine (every core, every process) since boot."""
    fields = _read("/proc/stat").split("\n", 1)[0].split()
    if not fields or fields[0] != "cpu":
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def process_tree_cpu_seconds(root: int) -> float:
    """User + system CPU of ``root`` and its live descendants, plus what their reaped children
    used (so that short-lived processes, such as PostgreSQL backends, are counted)."""
    ticks = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        raw = _read(str(entry / "stat"))
        if not raw:
            continue
        # The command name may contain spaces: fields start after the last ")".
        fields = raw[raw.rfind(")") + 2 :].split()
        try:
            cpu = int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
            stats[int(entry.name)] = (int(fields[1]), cpu / ticks)
        except (IndexError, ValueError):
            continue
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    total, stack = 0.0, [root]
    while stack:
        pid = stack.pop()
        if pid in stats:
            total += stats[pid][1]
        stack.extend(children.get(pid, []))
    return total


def local_postgres_pid(url: str) -> int | None:
    """The postmaster's pid when the PostgreSQL server of ``url`` runs on this machine."""
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=5) as conn:
            row = conn.execute("SELECT pg_backend_pid()").fetchone()
        raw = _read(f"/proc/{int(row[0])}/stat") if row else ""  # type: ignore[index]
        ppid = int(raw[raw.rfind(")") + 2 :].split()[1]) if raw else None
    except Exception:
        return None
    if ppid and _read(f"/proc/{ppid}/comm").strip().startswith("postgres"):
        return ppid
    return None


class PgConnectionSampler:
    """Samples how many server connections the bench database has (PostgreSQL only), from a
    background thread over one extra connection, every ``interval`` seconds."""

    def __init__(self, url: str, interval: float = 0.5) -> None:
        self.url = url
        self.interval = interval
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        import psycopg

        try:
            with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as conn:
                while not self._stop.is_set():
                    row = conn.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND pid <> pg_backend_pid()"
                    ).fetchone()
                    self.samples.append(int(row[0]) if row else 0)
                    self._stop.wait(self.interval)
        except Exception as exc:  # observe, never fail the bench for it
            print(f"bench: connection sampler stopped: {exc.__class__.__name__}", file=sys.stderr)

    def __enter__(self) -> PgConnectionSampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def summary(self) -> dict[str, object]:
        return {"peak": max(self.samples, default=None), "median": median(self.samples) if self.samples else None}


# --------------------------------------------------------------------------- load generator


@dataclass
class Measurement:
    name: str
    requests: int
    errors: int
    elapsed_s: float
    latencies_s: list[float] = field(repr=False)
    per_path_s: dict[str, list[float]] = field(repr=False)
    client_cpu: float  # cores used by this process while measuring
    server_cpu: float | None  # cores used by the server process tree
    machine_cpu: float  # cores busy on the whole machine (server, client, database, others)
    db_cpu: float | None = None  # cores used by a local PostgreSQL server (all its processes)
    error_samples: list[str] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return self.requests / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def summary(self) -> dict[str, object]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "elapsed_s": round(self.elapsed_s, 3),
            "rps": round(self.rps, 1),
            **latency_summary(self.latencies_s),
            "client_cpu_cores": round(self.client_cpu, 2),
            "server_cpu_cores": None if self.server_cpu is None else round(self.server_cpu, 2),
            "machine_cpu_cores": round(self.machine_cpu, 2),
            "db_cpu_cores": None if self.db_cpu is None else round(self.db_cpu, 2),
            "error_samples": self.error_samples,
        }


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), math.ceil(pct / 100 * len(sorted_values))))
    return sorted_values[rank - 1]


def latency_summary(latencies_s: Sequence[float]) -> dict[str, float]:
    values = sorted(latencies_s)
    if not values:
        return {"p50_ms": float("nan"), "p95_ms": float("nan"), "p99_ms": float("nan")}
    return {
        "mean_ms": round(statistics.fmean(values) * 1000, 2),
        "p50_ms": round(percentile(values, 50) * 1000, 2),
        "p95_ms": round(percentile(values, 95) * 1000, 2),
        "p99_ms": round(percentile(values, 99) * 1000, 2),
        "max_ms": round(values[-1] * 1000, 2),
    }


def run_load(
    name: str,
    base_url: str,
    paths: Sequence[str],
    check: Callable[[httpx.Response], bool],
    *,
    clients: int,
    duration_s: float,
    max_requests: int,
    server: Server | None = None,
    db_pid: int | None = None,
) -> Measurement:
    """Closed loop: ``clients`` threads, each with its own keep-alive connection, send the next
    path of the mix as soon as the previous answer arrives, until ``max_requests`` have been
    sent or ``duration_s`` has passed, whichever comes first."""
    if urlsplit(base_url).hostname != HOST:
        raise ValueError(f"the bench only loads {HOST}, not {base_url}")
    counter = itertools.count()  # next() is atomic under the GIL
    start_barrier = threading.Barrier(clients + 1)
    deadline = [0.0]
    results: list[tuple[list[tuple[int, float]], int, list[str]]] = [([], 0, [])] * clients

    def worker(index: int) -> None:
        samples: list[tuple[int, float]] = []
        errors = 0
        error_samples: list[str] = []
        with httpx.Client(base_url=base_url, timeout=30.0) as client:
            try:
                client.get(paths[index % len(paths)])  # open the connection before the clock starts
            except httpx.HTTPError:
                pass  # counted below, when the timed requests fail too
            start_barrier.wait(timeout=60)
            while True:
                n = next(counter)
                if n >= max_requests or time.perf_counter() >= deadline[0]:
                    break
                slot = n % len(paths)
                started = time.perf_counter()
                try:
                    response = client.get(paths[slot])
                    ok = response.status_code == 200 and check(response)
                    problem = f"{response.status_code} {paths[slot]}"
                except (httpx.HTTPError, ValueError) as exc:
                    ok, problem = False, f"{exc.__class__.__name__} {paths[slot]}"
                samples.append((slot, time.perf_counter() - started))
                if not ok:
                    errors += 1
                    if len(error_samples) < 5:
                        error_samples.append(problem)
        results[index] = (samples, errors, error_samples)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    server_cpu_before = server.cpu_seconds() if server else 0.0
    db_cpu_before = process_tree_cpu_seconds(db_pid) if db_pid else 0.0
    cpu_before = time.process_time()
    machine_before = machine_busy_cpu_seconds()
    deadline[0] = time.perf_counter() + duration_s
    started = time.perf_counter()
    start_barrier.wait(timeout=60)
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    client_cpu = (time.process_time() - cpu_before) / elapsed
    machine_cpu = (machine_busy_cpu_seconds() - machine_before) / elapsed
    server_cpu = (server.cpu_seconds() - server_cpu_before) / elapsed if server else None
    db_cpu = (process_tree_cpu_seconds(db_pid) - db_cpu_before) / elapsed if db_pid else None

    latencies: list[float] = []
    per_path: dict[str, list[float]] = {p: [] for p in paths}
    errors = 0
    error_samples: list[str] = []
    for samples, worker_errors, worker_samples in results:
        errors += worker_errors
        error_samples.extend(worker_samples)
        for slot, latency in samples:
            latencies.append(latency)
            per_path[paths[slot]].append(latency)
    return Measurement(
        name=name,
        requests=len(latencies),
        errors=errors,
        elapsed_s=elapsed,
        latencies_s=latencies,
        per_path_s=per_path,
        client_cpu=client_cpu,
        server_cpu=server_cpu,
        machine_cpu=machine_cpu,
        db_cpu=db_cpu,
        error_samples=error_samples[:5],
    )


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def audit_verify(env: dict[str, str]) -> dict[str, Any]:
    """Run ``weifei audit verify`` against the bench database: wall time, ok, its last line."""
    started = time.perf_counter()
    done = subprocess.run(weifei_command("audit", "verify"), cwd=REPO, env=env, capture_output=True, text=True)
    last = (done.stdout.strip().splitlines() or [""])[-1]
    return {"wall_s": round(time.perf_counter() - started, 2), "ok": done.returncode == 0, "output": last}


def report_close(report: dict[str, Any], problems: list[str], var_dir: Path, *, keep: bool) -> None:
    """End a benchmark report: load average, problems, status; keep the scratch directory when asked
    or when something went wrong (it holds the logs), else remove it."""
    report["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    report["problems"] = problems
    report["status"] = "ok" if not problems else "failed"
    if keep or problems:
        report["scratch_dir"] = str(var_dir)
        print(f"bench: scratch directory kept at {var_dir}", file=sys.stderr)
    else:
        remove_scratch_dir(var_dir)
