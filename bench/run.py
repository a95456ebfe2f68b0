"""``nox -s bench``: the performance benchmark of the reference server.

It starts the real server (``python -m ciam_server serve``: one uvicorn worker, SQLite, the
outbox for delivery) and drives it from other processes: ``wrk`` for the cheap endpoints and
``/healthz``, :mod:`bench.reset_load` for resets (each needs a fresh token and code, so they
cannot be replayed), :mod:`bench.sign_in_load` for sign-ins, :mod:`bench.sdk_load` for the
SDK. Each figure is a ratio, or a latency or memory bound, measured in this one run; the inputs
are printed beside them. The same run drives a peer built on fastapi-users
(:mod:`bench.peer.app`) the same way, and sets its figures beside the server's. The tables go to
standard output and everything to ``bench/results.json``.

    python -m bench.run [--quick] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import math
import os
import platform
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, urlencode

import httpx
from sqlalchemy import insert

from bench.sign_in_load import Credential, sign_in_form
from ciam_server.config import Settings
from ciam_server.domain.passwords import PasswordHashing
from ciam_server.store import SqlStore, create_engine
from ciam_server.store.tables import PasswordHistoryRow, UserRow

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results.json"
SEND_OK = 200
PEER_ACCEPTED = 202
# The peer's users, by group: those its forgot-password rounds cycle through, and those whose
# reset tokens its resets and its burst use (one reset each).
PEER_USERS = {"peer-rounds": 1000, "peer-resets": 1000, "peer-burst": 200}
# Figure 7: the users signing in, taken in turn, and the usernames locked.
SIGN_IN_USERS = 200
LOCKED_USERNAMES = 8

TARGETS = {
    "reset_vs_argon2_bound": (">=", 0.90),
    # Figure 2: the bare endpoint's server CPU time a request over the endpoint's, and the
    # endpoint's requests per second over the bare endpoint's, both on one worker.
    "otp_send_cpu_vs_bare": (">=", 0.40),
    "wrong_code_reset_cpu_vs_bare": (">=", 0.40),
    "otp_send_rate_vs_bare": (">=", 0.30),
    "wrong_code_reset_rate_vs_bare": (">=", 0.30),
    "healthz_p99_ms_under_resets": ("<=", 20.0),
    "peak_rss_mib_200_resets": ("<=", 600.0),
    # "Excess load answered quickly": a refusal must come sooner than the Retry-After it
    # carries (1 s), or waiting for it would cost more than the retry it asks for.
    "busy_p99_ms_200_resets": ("<=", 1000.0),
    "sdk_vs_httpx_sync": (">=", 0.85),
    "sdk_vs_httpx_async": (">=", 0.85),
    "sign_in_vs_argon2_bound": (">=", 0.90),
    # Figure 7b: argon2 operations spent on wrong passwords for locked usernames.
    "locked_sign_in_argon2_ops": ("=", 0),
}

# Figure 6, against the peer: how the server's value must compare with the peer's.
PEER_TARGETS = {
    "request_per_s": ">",
    "request_cpu_us": "<",
    "bad_token_cpu_us": "<=",
    "bad_token_per_s": ">",
    "resets_per_s": ">",
    "peak_rss_mib": "<",
}


@dataclass(frozen=True)
class Durations:
    """How long each phase measures, in seconds."""

    wrk_warmup: int
    wrk_round: int
    wrk_rounds: int
    sdk_round: float
    sdk_rounds: int
    argon2_window: int
    reset_warmup: int
    reset_window: int
    healthz_window: int
    burst_window: int
    peer_round: int
    peer_hash_round: int
    peer_rounds: int
    peer_reset_warmup: int
    peer_reset_window: int
    peer_burst_clients: int
    """Concurrent resets for the peer's peak RSS: it runs them one after another on its event
    loop, so each of its clients waits for all the resets before it."""
    sign_in_warmup: int
    sign_in_window: int
    locked_window: int
    """How long wrk sends wrong passwords for locked usernames."""

    @classmethod
    def full(cls) -> Durations:
        return cls(
            wrk_warmup=3,
            wrk_round=2,
            wrk_rounds=9,
            sdk_round=1.5,
            sdk_rounds=8,
            argon2_window=15,
            reset_warmup=10,
            reset_window=45,
            healthz_window=18,
            burst_window=20,
            peer_round=2,
            peer_hash_round=5,
            peer_rounds=3,
            peer_reset_warmup=5,
            peer_reset_window=20,
            peer_burst_clients=200,
            sign_in_warmup=5,
            sign_in_window=20,
            locked_window=4,
        )

    @classmethod
    def quick(cls) -> Durations:
        return cls(
            wrk_warmup=1,
            wrk_round=3,
            wrk_rounds=1,
            sdk_round=1,
            sdk_rounds=1,
            argon2_window=5,
            reset_warmup=5,
            reset_window=15,
            healthz_window=6,
            burst_window=8,
            peer_round=2,
            peer_hash_round=4,
            peer_rounds=1,
            peer_reset_warmup=2,
            peer_reset_window=6,
            peer_burst_clients=20,
            sign_in_warmup=3,
            sign_in_window=8,
            locked_window=2,
        )


# --- processes ---------------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    import socket  # noqa: PLC0415 - only here

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Service:
    """A server process on a port of its own."""

    name: str
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_service(
    name: str, module_args: list[str], env: dict[str, str], workdir: Path, probe: str
) -> Service:
    port = free_port()
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(  # noqa: S603 - this interpreter, our own modules
            [sys.executable, "-m", *module_args, "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=workdir,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    service = Service(name, process, f"http://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise SystemExit(f"{name} exited at start:\n{log_path.read_text()}")
        with contextlib.suppress(httpx.TransportError):
            httpx.get(service.base_url + probe, timeout=1)
            return service
        if time.monotonic() > deadline:
            service.stop()
            raise SystemExit(f"{name} did not start:\n{log_path.read_text()}")
        time.sleep(0.1)


def run_json(command: list[str], env: dict[str, str], workdir: Path) -> dict[str, Any]:
    """Run a load process to its end; its last output line is a JSON summary."""
    done = subprocess.run(  # noqa: S603 - this interpreter, our own modules
        command, env=env, cwd=workdir, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:3])} failed:\n{done.stdout}\n{done.stderr}")
    summary: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return summary


def wrk(arguments: list[str], workdir: Path) -> dict[str, Any]:
    """Run wrk with one of the Lua scripts, which print a line ``BENCH_JSON {...}``."""
    done = subprocess.run(  # noqa: S603 - wrk with arguments made here
        [wrk_path(), *arguments], cwd=workdir, capture_output=True, text=True, check=False
    )
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            summary: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
            summary["per_s"] = summary["requests"] / (summary["duration_us"] / 1e6)
            return summary
    raise SystemExit(f"wrk {' '.join(arguments)} failed:\n{done.stdout}\n{done.stderr}")


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    return path


def wrk_version() -> str:
    done = subprocess.run(  # noqa: S603 - wrk itself
        [wrk_path(), "--version"], capture_output=True, text=True, check=False
    )
    return (done.stdout + done.stderr).splitlines()[0].strip()


# --- the machine -------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    total = re.search(r"^MemTotal:\s*(\d+) kB", meminfo, re.MULTILINE)
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model.group(1).strip() if model else platform.processor(),
        "memory_mib": int(total.group(1)) // 1024 if total else None,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "versions": {
            name: metadata.version(name)
            for name in (
                "litestar",
                "uvicorn",
                "argon2-cffi",
                "sqlalchemy",
                "aiosqlite",
                "httpx",
                "fastapi",
                "fastapi-users",
                "fastapi-users-db-sqlalchemy",
                "pwdlib",
                "pyjwt",
            )
        },
        "wrk": wrk_version(),
    }


def proc_status_kib(pid: int, field: str) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    found = re.search(rf"^{field}:\s*(\d+) kB", text, re.MULTILINE)
    if found is None:
        raise SystemExit(f"no {field} in /proc/{pid}/status")
    return int(found.group(1))


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants: every process of a server, whatever their number."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # it has ended meanwhile
        children.setdefault(parent, []).append(int(entry.name))
    tree, waiting = [], [pid]
    while waiting:
        found = waiting.pop()
        tree.append(found)
        waiting.extend(children.get(found, []))
    return tree


def tree_status_kib(pids: list[int], field: str) -> int:
    """The sum of a memory field over the processes: an upper bound, since forked processes
    share pages."""
    return sum(proc_status_kib(pid, field) for pid in pids)


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system, all threads) that the process and its descendants have used so
    far, read from ``/proc`` for each process of the tree as it is now. Each counts its ended
    children too (``cutime``, ``cstime``), so a process that ends between two readings moves its
    time to its parent's count instead of taking it away."""
    ticks = 0
    for member in process_tree(pid):
        try:
            stat = Path(f"/proc/{member}/stat").read_text()
        except OSError:
            continue  # it has ended meanwhile; its parent counts it from now on
        fields = stat.rpartition(")")[2].split()
        ticks += sum(int(fields[index]) for index in (11, 12, 13, 14))
    return ticks / os.sysconf("SC_CLK_TCK")


def reset_peak_rss(pids: list[int]) -> bool:
    """Start the kernel's peak-RSS counts (VmHWM) afresh; False where that is not allowed."""
    try:
        for pid in pids:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class RssSampler:
    """Samples the summed RSS of processes every 20 ms, in case the kernel's peaks cannot be
    reset."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak_kib = max(self.peak_kib, tree_status_kib(self.pids, "VmRSS"))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


# --- the server's data -------------------------------------------------------------------------


@dataclass(frozen=True)
class Client:
    client_id: str
    client_secret: str

    @property
    def authorization(self) -> str:
        pair = f"{quote_plus(self.client_id)}:{quote_plus(self.client_secret)}"
        return "Basic " + base64.b64encode(pair.encode()).decode()


def cli(env: dict[str, str], workdir: Path, *args: str) -> Any:
    done = subprocess.run(  # noqa: S603 - this interpreter, the server's CLI
        [sys.executable, "-m", "ciam_server", *args],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"ciam-server {' '.join(args)} failed: {done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def user_email(group: str, number: int) -> str:
    return f"{group}-{number:05d}@example.com"


async def seed_users(settings: Settings, groups: dict[str, int]) -> int:
    """Users whose password history is full, so that a reset checks ``CIAM_PASSWORD_HISTORY``
    hashes. Making that history through the API would cost ``1 + 2 + ... + depth`` argon2
    operations per user; the hashes are instead made once, with the server's parameters, and
    stored in every user's history (checking a hash costs the same whoever owns it). Returns the
    number of hashes the server will check for such a user."""
    depth = settings.password_history
    hashing = PasswordHashing(settings.argon2, pool_size=settings.argon2_pool_size)
    try:
        hashes = await asyncio.gather(
            *(hashing.hash(f"Former-passphrase-{n}") for n in range(depth))
        )
    finally:
        hashing.close()
    engine = create_engine(settings.database_url)
    store = SqlStore(engine)
    now = datetime.now(UTC)
    try:
        user_ids: list[int] = []
        for group, size in groups.items():
            for number in range(size):
                user = await store.create_user(
                    email=user_email(group, number),
                    phone_number=None,
                    password_hash=hashes[-1],
                    now=now,
                )
                user_ids.append(user.id)
        async with engine.begin() as connection:
            await connection.execute(
                insert(PasswordHistoryRow),
                [
                    {
                        "user_id": user_id,
                        "password_hash": password_hash,
                        "created_at": now - timedelta(days=30 * (depth - age)),
                    }
                    for user_id in user_ids
                    for age, password_hash in enumerate(hashes[:-1])
                ],
            )
        checked = await store.recent_password_hashes(user_ids[0], depth)
    finally:
        await engine.dispose()
    return len(checked)


async def send_codes(base_url: str, client: Client, emails: list[str]) -> dict[str, str]:
    """``/otp/send`` to each address; its token by address."""
    gate = asyncio.Semaphore(8)
    tokens: dict[str, str] = {}
    async with httpx.AsyncClient(
        base_url=base_url, headers={"Authorization": client.authorization}, timeout=60
    ) as http:

        async def send(email: str) -> None:
            async with gate:
                response = await http.post(
                    "/otp/send", json={"usage": "reset_password", "email": email}
                )
            if response.status_code != SEND_OK:
                raise SystemExit(f"/otp/send for {email}: {response.status_code} {response.text}")
            tokens[email] = response.json()["otp_token"]

        await asyncio.gather(*(send(email) for email in emails))
    return tokens


def codes_from_outbox(outbox: Path, emails: set[str]) -> dict[str, str]:
    """The last reset code the dev outbox holds for each of ``emails``."""
    codes: dict[str, str] = {}
    with outbox.open(encoding="utf-8") as lines:
        for line in lines:
            message = json.loads(line)
            if message.get("to") in emails and message.get("usage") == "reset_password":
                codes[message["to"]] = message["code"]
    missing = emails - codes.keys()
    if missing:
        raise SystemExit(f"no code in the outbox for {len(missing)} addresses")
    return codes


def make_pairs(
    base_url: str, client: Client, outbox: Path, emails: list[str], path: Path
) -> list[dict[str, str]]:
    """Fresh (email, token, code) for each address, written to ``path`` for a load process."""
    tokens = asyncio.run(send_codes(base_url, client, emails))
    codes = codes_from_outbox(outbox, set(emails))
    pairs = [{"email": e, "token": tokens[e], "code": codes[e]} for e in emails]
    path.write_text(json.dumps(pairs))
    return pairs


async def add_users(settings: Settings, emails: list[str], password: str) -> None:
    """Users with no password history beyond ``password``: accounts for ``/otp/send`` and for
    signing in. One hash, made with the server's parameters, serves them all."""
    hashing = PasswordHashing(settings.argon2, pool_size=1)
    try:
        password_hash = await hashing.hash(password)
    finally:
        hashing.close()
    engine = create_engine(settings.database_url)
    now = datetime.now(UTC)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                insert(UserRow),
                [
                    {
                        "email": email,
                        "password_hash": password_hash,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for email in emails
                ],
            )
    finally:
        await engine.dispose()


def forged_reset_token(user_number: int) -> str:
    """A token shaped as fastapi-users' reset tokens (a JWT signed with HS256, naming a user
    and the reset audience) but signed with a key of its own: what a guess at one looks like."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = part(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = {
        "sub": str(uuid.UUID(int=user_number)),
        "password_fgpt": secrets.token_urlsafe(60),
        "aud": "fastapi-users:reset",
        "exp": int(time.time()) + 3600,
    }
    payload = part(json.dumps(claims).encode())
    key = secrets.token_bytes(32)
    signature = hmac.new(key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{part(signature)}"


async def post_all(
    base_url: str, path: str, bodies: list[dict[str, str]], concurrency: int
) -> tuple[dict[str, int], float]:
    """POST every body, ``concurrency`` at a time, each on a connection of its own; the
    statuses of the answers, and the seconds from the first request to the last answer."""
    gate = asyncio.Semaphore(concurrency)
    statuses: Counter[str] = Counter()
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, timeout=600, limits=limits) as http:

        async def post(body: dict[str, str]) -> None:
            async with gate:
                response = await http.post(path, json=body)
            statuses[str(response.status_code)] += 1

        started = time.monotonic()
        await asyncio.gather(*(post(body) for body in bodies))
        return dict(statuses), time.monotonic() - started


def post_batch(
    service: Service, path: str, bodies: list[dict[str, str]], concurrency: int = 16
) -> dict[str, Any]:
    """A batch of requests run to its end, with the server's CPU time meanwhile: for an endpoint
    that serves a few requests a second, where wrk's rounds would end with work begun and not
    answered, counted in the CPU time and not in the requests."""
    cpu_before = cpu_seconds(service.process.pid)
    statuses, seconds = asyncio.run(post_all(service.base_url, path, bodies, concurrency))
    return {
        "requests": len(bodies),
        "duration_us": seconds * 1e6,
        "per_s": len(bodies) / seconds,
        "server_cpu_s": cpu_seconds(service.process.pid) - cpu_before,
        "statuses": statuses,
        "errors": {},
        "connections": concurrency,
    }


def peer_tokens(outbox: Path, emails: list[str]) -> dict[str, str]:
    """The last reset token the peer's outbox holds for each of ``emails``."""
    wanted, tokens = set(emails), {}
    with outbox.open(encoding="utf-8") as lines:
        for line in lines:
            message = json.loads(line)
            if message["email"] in wanted:
                tokens[message["email"]] = message["token"]
    if len(tokens) < len(wanted):
        raise SystemExit(f"no token in the peer's outbox for {len(wanted) - len(tokens)} users")
    return tokens


def argon2_counter(base_url: str) -> float | None:
    """The server's count of argon2 operations, where it exports one at ``/metrics``."""
    try:
        response = httpx.get(base_url + "/metrics", timeout=5)
    except httpx.TransportError:
        return None
    if response.status_code != SEND_OK:
        return None
    values = re.findall(
        r"^ciam_argon2_operations_total(?:\{[^}]*\})?\s+([0-9.eE+-]+)$",
        response.text,
        re.MULTILINE,
    )
    return sum(float(value) for value in values) if values else None


def sdk_arguments(base_url: str, client: Client, durations: Durations) -> list[str]:
    """The arguments of ``bench.sdk_load``: the id and the secret are joined to their options
    with ``=``, since either may start with ``-`` and would then be read as an option."""
    return [
        f"--base-url={base_url}",
        f"--client-id={client.client_id}",
        f"--client-secret={client.client_secret}",
        f"--rounds={durations.sdk_rounds}",
        f"--seconds={durations.sdk_round}",
        "--concurrency=8",
    ]


def reset_arguments(
    base_url: str,
    pairs: Path,
    concurrency: int,
    warmup: int,
    window: int,
    *,
    authorization: str | None = None,
    retry_busy: bool = False,
) -> list[str]:
    """The arguments of ``bench.reset_load``: the server's resets, authenticated with
    ``authorization``, or without it the peer's."""
    arguments = [
        f"--base-url={base_url}",
        f"--pairs={pairs}",
        f"--concurrency={concurrency}",
        f"--warmup={warmup}",
        f"--window={window}",
        f"--authorization={authorization}" if authorization else "--peer",
    ]
    return [*arguments, "--retry-busy"] if retry_busy else arguments


def sign_in_arguments(
    base_url: str,
    credentials: Path,
    concurrency: int,
    warmup: int,
    window: int,
    *,
    authorization: str,
) -> list[str]:
    """The arguments of ``bench.sign_in_load``."""
    return [
        f"--base-url={base_url}",
        f"--authorization={authorization}",
        f"--credentials={credentials}",
        f"--concurrency={concurrency}",
        f"--warmup={warmup}",
        f"--window={window}",
    ]


def sign_in_line(credential: Credential) -> str:
    """A sign-in's form body as one line of a wrk bodies file."""
    return urlencode(sign_in_form(credential))


async def sign_in_all(
    base_url: str, authorization: str, credentials: list[Credential], concurrency: int
) -> dict[str, int]:
    """Sign in with each credential, ``concurrency`` at a time; the answers counted by status
    and error code (``"400 invalid_grant"``)."""
    gate = asyncio.Semaphore(concurrency)
    answers: Counter[str] = Counter()
    async with httpx.AsyncClient(
        base_url=base_url, headers={"Authorization": authorization}, timeout=120
    ) as http:

        async def sign_in(credential: Credential) -> None:
            async with gate:
                response = await http.post("/oauth2/token", data=sign_in_form(credential))
            code = "" if response.status_code == SEND_OK else response.json().get("error", "?")
            answers[f"{response.status_code} {code}".strip()] += 1

        await asyncio.gather(*(sign_in(credential) for credential in credentials))
    return dict(answers)


# --- the phases --------------------------------------------------------------------------------


@dataclass
class Bench:
    settings: Settings
    env: dict[str, str]
    workdir: Path
    server: Service
    client: Client
    durations: Durations
    history_checked: int

    @property
    def outbox(self) -> Path:
        return self.settings.outbox_path

    def bodies_file(self, name: str, bodies: Iterator[dict[str, str]], count: int) -> Path:
        path = self.workdir / f"{name}.jsonl"
        with path.open("w", encoding="utf-8") as out:
            for _, body in zip(range(count), bodies, strict=False):
                out.write(json.dumps(body, separators=(",", ":")) + "\n")
        return path

    def send_bodies(self, prefix: str) -> Iterator[dict[str, str]]:
        number = 0
        while True:
            yield {"usage": "reset_password", "email": f"{prefix}-{number}@example.com"}
            number += 1

    def wrong_code_bodies(self, prefix: str, count: int) -> list[dict[str, str]]:
        """Reset bodies with a live token and a wrong code, for addresses of their own."""
        emails = [f"{prefix}-{n}@example.com" for n in range(count)]
        tokens = asyncio.run(send_codes(self.server.base_url, self.client, emails))
        codes = codes_from_outbox(self.outbox, set(emails))
        return [
            {
                "email": email,
                "email_otp_token": tokens[email],
                "email_otp": f"{(int(codes[email]) + 1) % 10**6:06d}",
                "password": f"Bench-{secrets.token_hex(8)}",
            }
            for email in emails
        ]

    def wrk_post(
        self,
        service: Service,
        path: str,
        bodies: Path,
        seconds: int,
        *,
        auth: bool,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        """wrk posting ``bodies``; with the CPU time the serving process used meanwhile."""
        arguments = ["-t1", "-c16", f"-d{seconds}s", "--timeout", "30s", "--latency"]
        if auth:
            arguments += ["-H", f"Authorization: {self.client.authorization}"]
        arguments += ["-s", str(BENCH / "post.lua"), service.base_url + path]
        arguments += ["--", str(bodies), "1", content_type]
        cpu_before = cpu_seconds(service.process.pid)
        summary = wrk(arguments, self.workdir)
        summary["server_cpu_s"] = cpu_seconds(service.process.pid) - cpu_before
        return summary

    # 2. the cheap endpoints against a bare Litestar endpoint

    def cheap_endpoints(self) -> dict[str, Any]:
        d = self.durations
        bare = start_service("bare", ["bench.bare_app"], self.env, self.workdir, "/")
        try:
            generous = 200_000
            bare_bodies = self.bodies_file("bare", self.send_bodies("bare"), 20_000)
            log("warm-up: bare endpoint, /otp/send, wrong-code reset")
            self.wrk_post(bare, "/bare", bare_bodies, d.wrk_warmup, auth=False)
            warm_send = self.wrk_post(
                self.server,
                "/otp/send",
                self.bodies_file("send-warm", self.send_bodies("send-warm"), generous // 10),
                d.wrk_warmup,
                auth=True,
            )
            wrong = self.bodies_file("wrong-warm", iter(self.wrong_code_bodies("ww", 200)), 200)
            warm_wrong = self.wrk_post(
                self.server, "/reset_user_password", wrong, d.wrk_warmup, auth=True
            )
            # Each token takes at most 4 wrong codes here (5 kill it): enough tokens for twice
            # the warm-up rate, and /otp/send addresses for three times its rate.
            tokens_needed = math.ceil(2 * warm_wrong["per_s"] * d.wrk_round / 4) + 50
            sends_needed = min(generous, math.ceil(3 * warm_send["per_s"] * d.wrk_round) + 1000)
            # Every round's bodies are made before the first round, so that the rounds follow
            # each other with nothing between them: short rounds, alternating closely, meet
            # the machine's slow and quick spells alike.
            log(f"{d.wrk_rounds} x {tokens_needed} tokens for the wrong codes")
            tokens = self.wrong_code_bodies("wrong", tokens_needed * d.wrk_rounds)
            wrong_files = [
                self.bodies_file(f"wrong{n}", iter(tokens[n :: d.wrk_rounds]), tokens_needed)
                for n in range(d.wrk_rounds)
            ]
            send_files = [
                self.bodies_file(f"send{n}", self.send_bodies(f"send{n}"), sends_needed)
                for n in range(d.wrk_rounds)
            ]
            runs: dict[str, list[dict[str, Any]]] = {"bare": [], "send": [], "wrong": []}
            log(f"{d.wrk_rounds} rounds of {d.wrk_round} s: bare endpoint, /otp/send, wrong code")
            for number in range(d.wrk_rounds):
                runs["bare"].append(
                    self.wrk_post(bare, "/bare", bare_bodies, d.wrk_round, auth=False)
                )
                runs["send"].append(
                    self.wrk_post(
                        self.server, "/otp/send", send_files[number], d.wrk_round, auth=True
                    )
                )
                runs["wrong"].append(
                    self.wrk_post(
                        self.server,
                        "/reset_user_password",
                        wrong_files[number],
                        d.wrk_round,
                        auth=True,
                    )
                )
        finally:
            bare.stop()
        rates = {
            name: sum(r["requests"] for r in results) / sum(r["duration_us"] / 1e6 for r in results)
            for name, results in runs.items()
        }
        # The serving processes' CPU time a request: what neighbours on a shared machine take
        # from them does not count here.
        cpu_us = {name: cpu_us_per_request(results) for name, results in runs.items()}
        round_ratios = {
            name: [
                mine["per_s"] / bare["per_s"]
                for mine, bare in zip(runs[name], runs["bare"], strict=True)
            ]
            for name in ("send", "wrong")
        }
        round_cpu_ratios = {
            name: [
                cpu_us_per_request([bare]) / cpu_us_per_request([mine])
                for mine, bare in zip(runs[name], runs["bare"], strict=True)
            ]
            for name in ("send", "wrong")
        }
        return {
            "rates_per_s": rates,
            "server_cpu_us_per_request": cpu_us,
            "round_ratios": round_ratios,
            "round_cpu_ratios": round_cpu_ratios,
            "runs": runs,
            "connections": 16,
            "wrk_threads": 1,
        }

    # 5. the SDK against raw httpx

    def sdk(self) -> dict[str, Any]:
        command = [sys.executable, "-m", "bench.sdk_load"]
        arguments = sdk_arguments(self.server.base_url, self.client, self.durations)
        return run_json([*command, *arguments], self.env, ROOT)

    # 1. resets against the argon2 bound

    def argon2_rate(self) -> dict[str, Any]:
        return run_json(
            [
                sys.executable,
                "-m",
                "bench.argon2_rate",
                "--history",
                str(self.history_checked),
                "--warmup",
                "3",
                "--window",
                str(self.durations.argon2_window),
            ],
            self.env,
            self.workdir,
        )

    def reset_load(
        self, pairs: Path, concurrency: int, warmup: int, window: int, *, retry_busy: bool
    ) -> list[str]:
        arguments = reset_arguments(
            self.server.base_url,
            pairs,
            concurrency,
            warmup,
            window,
            authorization=self.client.authorization,
            retry_busy=retry_busy,
        )
        return [sys.executable, "-m", "bench.reset_load", *arguments]

    def pairs(self, group: str, count: int) -> Path:
        path = self.workdir / f"pairs-{group}.json"
        emails = [user_email(group, n) for n in range(count)]
        make_pairs(self.server.base_url, self.client, self.outbox, emails, path)
        return path

    def resets(self, concurrency: int, users: int) -> dict[str, Any]:
        d = self.durations
        pairs = self.pairs("m1", users)
        before = argon2_counter(self.server.base_url)
        cpu_before = cpu_seconds(self.server.process.pid)
        summary = run_json(
            self.reset_load(pairs, concurrency, d.reset_warmup, d.reset_window, retry_busy=True),
            self.env,
            ROOT,
        )
        summary["server_cpu_s"] = cpu_seconds(self.server.process.pid) - cpu_before
        after = argon2_counter(self.server.base_url)
        if before is not None and after is not None and summary["successes"]:
            summary["argon2_ops_per_reset_by_server_counter"] = (after - before) / summary[
                "successes"
            ]
        return summary

    # 3. /healthz while resets saturate the CPU

    def healthz_under_resets(self, concurrency: int, users: int) -> dict[str, Any]:
        d = self.durations
        pairs = self.pairs("m3", users)
        settle = 4
        window = d.healthz_window + 2 * settle
        with (self.workdir / "m3-resets.json").open("w") as out:
            resets = subprocess.Popen(  # noqa: S603 - this interpreter, our own module
                self.reset_load(pairs, concurrency, 0, window, retry_busy=True),
                env=self.env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.PIPE,
            )
            time.sleep(settle)
            probe = wrk(
                [
                    "-t1",
                    "-c2",
                    f"-d{d.healthz_window}s",
                    "--timeout",
                    "10s",
                    "-s",
                    str(BENCH / "paced_get.lua"),
                    self.server.base_url + "/healthz",
                    "--",
                    "20",
                ],
                self.workdir,
            )
            _, errors = resets.communicate()
        if resets.returncode != 0:
            raise SystemExit(f"reset load failed: {errors.decode()}")
        summary: dict[str, Any] = json.loads((self.workdir / "m3-resets.json").read_text())
        return {"healthz": probe, "resets": summary, "probe_connections": 2, "pause_ms": 20}

    # 4. memory under 200 concurrent resets

    def burst(self, concurrency: int, users: int) -> dict[str, Any]:
        pairs = self.pairs("m4", users)
        pids = process_tree(self.server.process.pid)
        rss_before = tree_status_kib(pids, "VmRSS")
        kernel_peak = reset_peak_rss(pids)
        with RssSampler(pids) as sampler:
            summary = run_json(
                self.reset_load(
                    pairs, concurrency, 0, self.durations.burst_window, retry_busy=True
                ),
                self.env,
                ROOT,
            )
        peak_kib = max(sampler.peak_kib, tree_status_kib(pids, "VmHWM") if kernel_peak else 0)
        return {
            "rss_before_mib": rss_before / 1024,
            "peak_rss_mib": peak_kib / 1024,
            "processes": len(pids),
            "peak_from": "VmHWM and 20 ms samples" if kernel_peak else "20 ms samples",
            "resets": summary,
        }

    # 7. sign-ins against the argon2 bound, and wrong passwords for locked usernames

    def argon2_count(self) -> float:
        count = argon2_counter(self.server.base_url)
        if count is None:
            raise SystemExit("the server exports no ciam_argon2_operations_total at /metrics")
        return count

    def sign_ins(self, concurrency: int, users: int) -> dict[str, Any]:
        """Successful sign-ins, driven as figure 1 drives resets, then locked usernames."""
        d = self.durations
        password = f"Bench-{secrets.token_hex(8)}"
        signing_in = [Credential(user_email("m7", n), password) for n in range(users)]
        lockable = [user_email("m7-locked", n) for n in range(LOCKED_USERNAMES)]
        asyncio.run(add_users(self.settings, [c.username for c in signing_in] + lockable, password))
        credentials = self.workdir / "sign-in-credentials.json"
        credentials.write_text(json.dumps([asdict(c) for c in signing_in]))
        # The server's first sign-in makes the dummy hash it checks unknown usernames against:
        # this one, made before anything is counted, also proves the password.
        first = asyncio.run(
            sign_in_all(self.server.base_url, self.client.authorization, signing_in[:1], 1)
        )
        if first != {str(SEND_OK): 1}:
            raise SystemExit(f"a first sign-in was answered {first}")
        before = self.argon2_count()
        cpu_before = cpu_seconds(self.server.process.pid)
        arguments = sign_in_arguments(
            self.server.base_url,
            credentials,
            concurrency,
            d.sign_in_warmup,
            d.sign_in_window,
            authorization=self.client.authorization,
        )
        summary = run_json([sys.executable, "-m", "bench.sign_in_load", *arguments], self.env, ROOT)
        summary["server_cpu_s"] = cpu_seconds(self.server.process.pid) - cpu_before
        summary["argon2_ops"] = self.argon2_count() - before
        return {"sign_ins": summary, "locked": self.locked_sign_ins(lockable)}

    def locked_sign_ins(self, usernames: list[str]) -> dict[str, Any]:
        """Lock ``usernames`` with ``CIAM_SIGN_IN_MAX_FAILURES`` wrong passwords each, then send
        wrong passwords for them with wrk, counting the argon2 operations of each step."""
        max_failures = self.settings.sign_in_max_failures

        def wrong(username: str) -> Credential:
            return Credential(username, f"Wrong-{secrets.token_hex(8)}")

        before = self.argon2_count()
        locking = asyncio.run(
            sign_in_all(
                self.server.base_url,
                self.client.authorization,
                [wrong(u) for u in usernames for _ in range(max_failures)],
                8,
            )
        )
        locked_at = self.argon2_count()
        bodies = self.workdir / "locked.txt"
        bodies.write_text(
            "".join(f"{sign_in_line(wrong(u))}\n" for _ in range(50) for u in usernames)
        )
        refusals = self.wrk_post(
            self.server,
            "/oauth2/token",
            bodies,
            self.durations.locked_window,
            auth=True,
            content_type="application/x-www-form-urlencoded",
        )
        refusals["argon2_ops"] = self.argon2_count() - locked_at
        refusals["server_cpu_us_per_request"] = cpu_us_per_request([refusals])
        return {
            "usernames": len(usernames),
            "max_failures": max_failures,
            "locking": {"answers": locking, "argon2_ops": locked_at - before},
            "refusals": refusals,
        }

    # 6. against fastapi-users, the peer

    def start_peer(self) -> Service:
        """The peer on a SQLite file of its own, seeded with its users, hashing with the
        server's argon2 parameters."""
        s = self.settings
        argon2 = [
            f"--argon2-time-cost={s.argon2_time_cost}",
            f"--argon2-memory-kib={s.argon2_memory_kib}",
            f"--argon2-parallelism={s.argon2_parallelism}",
        ]
        database = self.workdir / "peer.db"
        emails = self.workdir / "peer-emails.json"
        emails.write_text(
            json.dumps([user_email(g, n) for g, size in PEER_USERS.items() for n in range(size)])
        )
        command = ["-m", "bench.peer.seed", "--database", str(database), "--emails", str(emails)]
        run_json([sys.executable, *command, *argon2], self.env, self.workdir)
        outbox = ["--outbox", str(self.peer_outbox)]
        env = {**self.env, "PEER_RESET_SECRET": secrets.token_urlsafe(48)}
        module = ["bench.peer.app", "--database", str(database), *outbox, *argon2]
        return start_service("peer", module, env, self.workdir, "/")

    @property
    def peer_outbox(self) -> Path:
        return self.workdir / "peer-outbox.jsonl"

    def peer_pairs(self, peer: Service, group: str, count: int) -> Path:
        """Fresh reset tokens of the peer's users of ``group``, written for a load process."""
        emails = [user_email(group, n) for n in range(count)]
        asked = post_batch(peer, "/auth/forgot-password", [{"email": e} for e in emails], 8)
        if asked["statuses"] != {str(PEER_ACCEPTED): count}:
            raise SystemExit(f"the peer's forgot-password answered {asked['statuses']}")
        tokens = peer_tokens(self.peer_outbox, emails)
        path = self.workdir / f"peer-pairs-{group}.json"
        path.write_text(json.dumps([{"email": e, "token": tokens[e], "code": ""} for e in emails]))
        return path

    def peer_reset_load(
        self, peer: Service, pairs: Path, concurrency: int, warmup: int, window: int
    ) -> list[str]:
        arguments = reset_arguments(peer.base_url, pairs, concurrency, warmup, window)
        return [sys.executable, "-m", "bench.reset_load", *arguments]

    def peer_requests(self, peer: Service, send_rate: float) -> dict[str, Any]:
        """Requests for a reset and resets with a bad token, in rounds alternating the server
        and the peer."""
        d = self.durations
        # /otp/send goes to accounts here, as forgot-password does, each to one of its own.
        sends_needed = math.ceil(3 * send_rate * d.peer_round) + 1000
        log(f"{d.peer_rounds} x {sends_needed} accounts for /otp/send")
        accounts = [
            [f"account{n}-{k}@example.com" for k in range(sends_needed)]
            for n in range(d.peer_rounds)
        ]
        asyncio.run(
            add_users(
                self.settings,
                [e for emails in accounts for e in emails],
                f"Former-{secrets.token_hex(8)}",
            )
        )
        send_files = [
            self.bodies_file(
                f"account-send{n}",
                iter({"usage": "reset_password", "email": e} for e in emails),
                sends_needed,
            )
            for n, emails in enumerate(accounts)
        ]
        unknown = self.bodies_file(
            "unknown-token",
            iter(
                {
                    "email": f"unknown-{n}@example.com",
                    "email_otp_token": secrets.token_urlsafe(32),
                    "email_otp": f"{secrets.randbelow(10**6):06d}",
                    "password": f"Bench-{secrets.token_hex(8)}",
                }
                for n in range(2000)
            ),
            2000,
        )
        forgot = [
            {"email": user_email("peer-rounds", n % PEER_USERS["peer-rounds"])}
            for n in range(100_000)
        ]
        forged = self.bodies_file(
            "peer-bad-token",
            iter(
                {"token": forged_reset_token(n), "password": f"Bench-{secrets.token_hex(8)}"}
                for n in range(2000)
            ),
            2000,
        )
        log("warm-up: the peer's forgot-password and bad tokens")
        warm = post_batch(peer, "/auth/forgot-password", forgot[:16])
        self.wrk_post(peer, "/auth/reset-password", forged, d.wrk_warmup, auth=False)
        # forgot-password runs as batches of as many requests as the warm-up's rate serves in a
        # round, each run to its end.
        batch = max(16, math.ceil(warm["per_s"] * d.peer_hash_round))
        runs: dict[str, list[dict[str, Any]]] = {
            "send": [],
            "forgot": [],
            "unknown": [],
            "forged": [],
        }
        log(f"{d.peer_rounds} rounds: /otp/send, forgot-password, unknown token, bad token")
        for number in range(d.peer_rounds):
            runs["send"].append(
                self.wrk_post(self.server, "/otp/send", send_files[number], d.peer_round, auth=True)
            )
            runs["forgot"].append(
                post_batch(
                    peer, "/auth/forgot-password", forgot[number * batch : (number + 1) * batch]
                )
            )
            runs["unknown"].append(
                self.wrk_post(self.server, "/reset_user_password", unknown, d.peer_round, auth=True)
            )
            runs["forged"].append(
                self.wrk_post(peer, "/auth/reset-password", forged, d.peer_round, auth=False)
            )
        return {
            "rates_per_s": {
                name: sum(r["requests"] for r in results)
                / sum(r["duration_us"] / 1e6 for r in results)
                for name, results in runs.items()
            },
            "server_cpu_us_per_request": {
                name: cpu_us_per_request(results) for name, results in runs.items()
            },
            "runs": runs,
        }

    def peer_resets(self, peer: Service, concurrency: int, forgot_rate: float) -> dict[str, Any]:
        """Successful resets of the peer, driven as figure 1 drives the server's."""
        d = self.durations
        # A reset costs the peer two argon2 calls to its forgot-password's one: tokens for
        # twice the resets the window could hold.
        seconds = d.peer_reset_warmup + d.peer_reset_window
        count = min(PEER_USERS["peer-resets"], math.ceil(forgot_rate * seconds) + 20)
        log(f"{count} reset tokens from the peer")
        pairs = self.peer_pairs(peer, "peer-resets", count)
        cpu_before = cpu_seconds(peer.process.pid)
        summary = run_json(
            self.peer_reset_load(
                peer, pairs, concurrency, d.peer_reset_warmup, d.peer_reset_window
            ),
            self.env,
            ROOT,
        )
        summary["server_cpu_s"] = cpu_seconds(peer.process.pid) - cpu_before
        return summary

    def peer_burst(self, peer: Service) -> dict[str, Any]:
        """The peer's peak RSS while its clients reset at once, one reset each."""
        clients = self.durations.peer_burst_clients
        log(f"{clients} reset tokens from the peer")
        pairs = self.peer_pairs(peer, "peer-burst", clients)
        pids = process_tree(peer.process.pid)
        rss_before = tree_status_kib(pids, "VmRSS")
        kernel_peak = reset_peak_rss(pids)
        with RssSampler(pids) as sampler:
            summary = run_json(
                self.peer_reset_load(peer, pairs, clients, 0, self.durations.burst_window),
                self.env,
                ROOT,
            )
        peak_kib = max(sampler.peak_kib, tree_status_kib(pids, "VmHWM") if kernel_peak else 0)
        return {
            "rss_before_mib": rss_before / 1024,
            "peak_rss_mib": peak_kib / 1024,
            "processes": len(pids),
            "peak_from": "VmHWM and 20 ms samples" if kernel_peak else "20 ms samples",
            "resets": summary,
        }

    def against_peer(self, send_rate: float, reset_concurrency: int) -> dict[str, Any]:
        peer = self.start_peer()
        try:
            requests = self.peer_requests(peer, send_rate)
            log(f"the peer's resets at concurrency {reset_concurrency}")
            forgot_rate = requests["rates_per_s"]["forgot"]
            resets = self.peer_resets(peer, reset_concurrency, forgot_rate)
            log(f"{self.durations.peer_burst_clients} concurrent resets on the peer")
            burst = self.peer_burst(peer)
        finally:
            peer.stop()
        return {"requests": requests, "resets": resets, "burst": burst}


def cpu_us_per_request(runs: list[dict[str, Any]]) -> float:
    """The server's CPU time a request, in microseconds, over wrk runs."""
    cpu_s = sum(float(r["server_cpu_s"]) for r in runs)
    return 1e6 * cpu_s / sum(int(r["requests"]) for r in runs)


# --- the report --------------------------------------------------------------------------------


def met(name: str, value: float) -> bool:
    sense, target = TARGETS[name]
    return compare(value, sense, target)


def _range(ratios: list[float]) -> str:
    """Lowest/middle/highest of per-round ratios: how far the machine's noise moved them."""
    ordered = sorted(ratios)
    return f"{ordered[0]:.2f}/{ordered[len(ordered) // 2]:.2f}/{ordered[-1]:.2f}"


def figures(results: dict[str, Any]) -> list[dict[str, Any]]:
    m = results["measurements"]
    inputs = results["inputs"]
    n = inputs["history_checked"]
    bound_ops = (m["argon2_before"]["ops_per_s"] + m["argon2_after"]["ops_per_s"]) / 2
    bound = bound_ops / (1 + n)
    resets = m["resets"]["resets_per_s"]
    rates = m["cheap"]["rates_per_s"]
    cpu_us = m["cheap"]["server_cpu_us_per_request"]
    spread = m["cheap"]["round_ratios"]
    cpu_spread = m["cheap"]["round_cpu_ratios"]
    bounds = sorted(
        resets / (m[key]["ops_per_s"] / (1 + n)) for key in ("argon2_before", "argon2_after")
    )
    healthz_p99 = m["healthz"]["healthz"]["latency_us"]["p99"] / 1000
    # Per CPU second instead of per second: what the rest of the server costs next to argon2,
    # whatever share of the machine neighbours took.
    bound_per_cpu = (
        (m["argon2_before"]["ops_per_cpu_s"] + m["argon2_after"]["ops_per_cpu_s"]) / 2 / (1 + n)
    )
    resets_per_cpu = m["resets"]["successes"] / m["resets"]["server_cpu_s"]
    busy = m["burst"]["resets"]["latency_ms"].get("503", {"count": 0})
    sign_ins, locked = m["sign_ins"]["sign_ins"], m["sign_ins"]["locked"]
    sign_in_rate = sign_ins["sign_ins_per_s"]
    sign_in_bounds = sorted(
        sign_in_rate / m[key]["ops_per_s"] for key in ("argon2_before", "argon2_after")
    )
    sign_ins_per_cpu = sign_ins["successes"] / sign_ins["server_cpu_s"]
    refusals = locked["refusals"]
    rows = [
        (
            "reset_vs_argon2_bound",
            "1. resets/s ÷ argon2 bound",
            resets / bound,
            f"{resets:.2f} resets/s ÷ ({bound_ops:.2f} argon2 ops/s ÷ (1 + N={n})) = "
            f"{resets:.2f} ÷ {bound:.2f} (with the bound before or after alone: "
            f"{bounds[0]:.2f}-{bounds[1]:.2f}; per CPU second {resets_per_cpu / bound_per_cpu:.3f}"
            f"); concurrency {m['resets']['concurrency']}"
            + (
                f"; server counted {per_reset:.2f} argon2 ops per reset"
                if (per_reset := m["resets"].get("argon2_ops_per_reset_by_server_counter"))
                else ""
            ),
        ),
        (
            "otp_send_cpu_vs_bare",
            "2a. bare POST's server CPU/request ÷ /otp/send's",
            cpu_us["bare"] / cpu_us["send"],
            f"{cpu_us['bare']:.0f} ÷ {cpu_us['send']:.0f} µs of CPU a request, over every "
            f"process of each server (rounds {_range(cpu_spread['send'])}); wrk 1 thread, "
            "16 connections",
        ),
        (
            "otp_send_rate_vs_bare",
            "2a. /otp/send ÷ bare POST, requests/s, 1 worker",
            rates["send"] / rates["bare"],
            f"{rates['send']:.0f} ÷ {rates['bare']:.0f} requests/s (rounds "
            f"{_range(spread['send'])})",
        ),
        (
            "wrong_code_reset_cpu_vs_bare",
            "2b. bare POST's server CPU/request ÷ wrong code's",
            cpu_us["bare"] / cpu_us["wrong"],
            f"{cpu_us['bare']:.0f} ÷ {cpu_us['wrong']:.0f} µs of CPU a request (rounds "
            f"{_range(cpu_spread['wrong'])}); "
            + ", ".join(f"{k} {v}" for k, v in wrk_errors(m["cheap"]["runs"]["wrong"]).items()),
        ),
        (
            "wrong_code_reset_rate_vs_bare",
            "2b. wrong code ÷ bare POST, requests/s, 1 worker",
            rates["wrong"] / rates["bare"],
            f"{rates['wrong']:.0f} ÷ {rates['bare']:.0f} requests/s (rounds "
            f"{_range(spread['wrong'])})",
        ),
        (
            "healthz_p99_ms_under_resets",
            "3. /healthz p99 while resets saturate the CPU (ms)",
            healthz_p99,
            f"{m['healthz']['healthz']['requests']} probes, 2 connections pausing 20 ms; "
            f"meanwhile {m['healthz']['resets']['resets_per_s']:.2f} resets/s at concurrency "
            f"{m['healthz']['resets']['concurrency']}",
        ),
        (
            "peak_rss_mib_200_resets",
            "4a. peak server RSS under 200 concurrent resets (MiB)",
            m["burst"]["peak_rss_mib"],
            f"summed over the server's {m['burst']['processes']} processes; RSS before "
            f"{m['burst']['rss_before_mib']:.0f} MiB; "
            f"{m['burst']['resets']['successes']} resets done meanwhile",
        ),
        (
            "busy_p99_ms_200_resets",
            "4b. 503 p99 under 200 concurrent resets (ms)",
            busy.get("p99", math.nan),
            f"{busy.get('count', 0)} answers 503 (p50 {busy.get('p50', math.nan):.0f} ms, max "
            f"{busy.get('max', math.nan):.0f} ms), "
            f"{m['burst']['resets']['busy_with_retry_after']} with Retry-After; each of 200 "
            "clients retries after it",
        ),
        (
            "sdk_vs_httpx_sync",
            "5a. SDK ÷ raw httpx, sync",
            m["sdk"]["sync"]["ratio"],
            f"{m['sdk']['sync']['sdk_calls_per_s']:.0f} ÷ "
            f"{m['sdk']['sync']['raw_calls_per_s']:.0f} /otp/send calls/s (rounds "
            f"{_range(m['sdk']['sync']['round_ratios'])}), one at a time",
        ),
        (
            "sdk_vs_httpx_async",
            "5b. SDK ÷ raw httpx, async",
            m["sdk"]["async"]["ratio"],
            f"{m['sdk']['async']['sdk_calls_per_s']:.0f} ÷ "
            f"{m['sdk']['async']['raw_calls_per_s']:.0f} /otp/send calls/s (rounds "
            f"{_range(m['sdk']['async']['round_ratios'])}), "
            f"{m['sdk']['async']['concurrency']} tasks",
        ),
        (
            "sign_in_vs_argon2_bound",
            "7a. sign-ins/s ÷ argon2 bound",
            sign_in_rate / bound_ops,
            f"{sign_in_rate:.2f} sign-ins/s ÷ ({bound_ops:.2f} argon2 ops/s ÷ 1) (with the "
            f"bound before or after alone: {sign_in_bounds[0]:.2f}-{sign_in_bounds[1]:.2f}; "
            f"per CPU second {sign_ins_per_cpu / (bound_per_cpu * (1 + n)):.3f}); "
            f"concurrency {sign_ins['concurrency']}; server counted "
            f"{sign_ins['argon2_ops'] / sign_ins['successes']:.2f} argon2 ops per sign-in; "
            + ", ".join(f"{k} {v}" for k, v in sign_ins["statuses"].items()),
        ),
        (
            "locked_sign_in_argon2_ops",
            "7b. argon2 ops, wrong passwords for locked usernames",
            refusals["argon2_ops"],
            f"{refusals['requests']} answered for {locked['usernames']} usernames, each locked by "
            f"{locked['max_failures']} wrong passwords ({locked['locking']['argon2_ops']:.0f} "
            f"argon2 ops); answers: "
            + ", ".join(f"{k} {v}" for k, v in wrk_errors([refusals]).items())
            + f"; {refusals['server_cpu_us_per_request']:.0f} µs of server CPU a refusal, "
            f"{refusals['per_s']:.0f} requests/s; wrk 1 thread, 16 connections",
        ),
    ]
    return [
        {
            "key": key,
            "figure": label,
            "value": value,
            "target": f"{TARGETS[key][0]} {TARGETS[key][1]:g}",
            "met": met(key, value),
            "how": how,
        }
        for key, label, value, how in rows
    ]


def wrk_errors(runs: list[dict[str, Any]]) -> dict[str, int]:
    """The statuses and error codes that wrk runs were answered with, counted together."""
    counts: dict[str, int] = {}
    for run in runs:
        for key, value in [*run["statuses"].items(), *run["errors"].items()]:
            counts[key] = counts.get(key, 0) + value
    return counts


def peer_figures(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Figure 6: the server's value beside the peer's, each from this run."""
    m = results["measurements"]
    requests = m["peer"]["requests"]
    rates = requests["rates_per_s"]
    cpu_us = requests["server_cpu_us_per_request"]
    wrong_us = m["cheap"]["server_cpu_us_per_request"]["wrong"]
    ours_resets, peer_resets = m["resets"], m["peer"]["resets"]
    ours_burst, peer_burst = m["burst"], m["peer"]["burst"]
    rows = [
        (
            "request_per_s",
            "6a. request a reset, requests/s",
            rates["send"],
            rates["forgot"],
            "/otp/send vs /auth/forgot-password, both for existing accounts, 16 connections: "
            "ours wrk rounds, the peer's batches run to their end",
        ),
        (
            "request_cpu_us",
            "6b. request a reset, server CPU µs/request",
            cpu_us["send"],
            cpu_us["forgot"],
            "over every process of each server",
        ),
        (
            "bad_token_cpu_us",
            "6c. reset with a bad token, server CPU µs/request",
            max(cpu_us["unknown"], wrong_us),
            cpu_us["forged"],
            f"ours the costlier of an unknown otp_token ({cpu_us['unknown']:.0f} µs) and a "
            f"wrong code on a live one ({wrong_us:.0f} µs, figure 2b); the peer's a JWT signed "
            "with another key",
        ),
        (
            "bad_token_per_s",
            "6d. reset with a bad token, requests/s",
            rates["unknown"],
            rates["forged"],
            "ours an unknown otp_token ("
            + ", ".join(f"{k} {v}" for k, v in wrk_errors(requests["runs"]["unknown"]).items())
            + "); the peer's ("
            + ", ".join(f"{k} {v}" for k, v in wrk_errors(requests["runs"]["forged"]).items())
            + ")",
        ),
        (
            "resets_per_s",
            "6e. successful resets/s",
            ours_resets["resets_per_s"],
            peer_resets["resets_per_s"],
            f"concurrency {peer_resets['concurrency']}; argon2 calls a reset: ours "
            f"1 + N = {1 + results['inputs']['history_checked']}, the peer's 2 (its token's "
            "password fingerprint, the new hash); ours from figure 1"
            + ("; the peer ran out of tokens" if peer_resets["ran_out_of_pairs"] else ""),
        ),
        (
            "peak_rss_mib",
            "6f. peak server RSS under concurrent resets (MiB)",
            ours_burst["peak_rss_mib"],
            peer_burst["peak_rss_mib"],
            f"ours under 200 (figure 4a), the peer's under {peer_burst['resets']['concurrency']}"
            f" ({peer_burst['resets']['successes']} resets, one at a time on its event loop); "
            f"processes: ours {ours_burst['processes']}, the peer's {peer_burst['processes']}",
        ),
    ]
    return [
        {
            "key": key,
            "figure": label,
            "ours": ours,
            "peer": peer,
            "target": f"ours {PEER_TARGETS[key]} peer's",
            "met": compare(ours, PEER_TARGETS[key], peer),
            "how": how,
        }
        for key, label, ours, peer, how in rows
    ]


def compare(value: float, sense: str, other: float) -> bool:
    return {
        ">": value > other,
        ">=": value >= other,
        "<": value < other,
        "<=": value <= other,
        "=": value == other,
    }[sense]


def print_report(results: dict[str, Any]) -> None:
    inputs = results["inputs"]
    mach = results["machine"]
    print()
    print(
        f"machine: {mach['cpus']} CPUs, {mach['cpu_model']}, {mach['memory_mib']} MiB; "
        f"Python {mach['python']}; {mach['wrk']}"
    )
    print(
        f"argon2id t={inputs['argon2_time_cost']} m={inputs['argon2_memory_kib']} KiB "
        f"p={inputs['argon2_parallelism']}; pool {inputs['argon2_pool_size']} threads, queue "
        f"limit {inputs['argon2_queue_limit']}; N = {inputs['history_checked']} history hashes "
        f"checked per reset; server: {inputs['workers']} uvicorn worker, SQLite, outbox"
    )
    print()
    width = max(len(row["figure"]) for row in results["figures"])
    print(f"{'figure':<{width}}  {'measured':>9}  {'target':>7}  met  inputs")
    for row in results["figures"]:
        print(
            f"{row['figure']:<{width}}  {row['value']:>9.3f}  {row['target']:>7}  "
            f"{'yes' if row['met'] else 'NO ':<3}  {row['how']}"
        )
    print()
    print("against the peer, fastapi-users (bench/peer), in the same run:")
    width = max(len(row["figure"]) for row in results["peer_figures"])
    print(f"{'figure':<{width}}  {'ours':>9}  {'peer':>9}  {'target':<16}  met  inputs")
    for row in results["peer_figures"]:
        print(
            f"{row['figure']:<{width}}  {row['ours']:>9.2f}  {row['peer']:>9.2f}  "
            f"{row['target']:<16}  {'yes' if row['met'] else 'NO ':<3}  {row['how']}"
        )
    print()
    load = ", ".join(f"{k} {v:.1f}" for k, v in results["load_average_1min"].items())
    print(f"1-minute load average after each phase (other work on the machine): {load}")
    print(f"{results['duration_s']:.0f} s; everything in {RESULTS.relative_to(ROOT)}")


# --- main --------------------------------------------------------------------------------------


def server_env(workdir: Path) -> dict[str, str]:
    env = {
        **os.environ,
        # The outbox, the delivery this benchmark reads codes from, is for dev mode only.
        "CIAM_MODE": "dev",
        "CIAM_SECRET_KEY": secrets.token_urlsafe(48),
        "CIAM_DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'ciam.db'}",
        "CIAM_DELIVERY": "outbox",
        "CIAM_OUTBOX_PATH": str(workdir / "outbox.jsonl"),
        # All the load comes from one address, which stands for many: the per-address limiter
        # stays in every request's path but never refuses; so does the one on sign-ins.
        "CIAM_IP_RATE_LIMIT": "1000000000",
        "CIAM_SIGN_IN_IP_LIMIT": "1000000000",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    env.pop("CIAM_REDIS_URL", None)
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description="The server's performance benchmark.")
    parser.add_argument("--quick", action="store_true", help="short windows, to try the bench")
    parser.add_argument("--keep", action="store_true", help="keep the work folder and logs")
    arguments = parser.parse_args()
    wrk_path()
    durations = Durations.quick() if arguments.quick else Durations.full()
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="ciam-bench-"))
    env = server_env(workdir)
    for name, value in env.items():
        if name.startswith("CIAM_"):
            os.environ[name] = value
    with contextlib.chdir(workdir):  # where the server runs: no .env file
        settings = Settings()
    pool_size = settings.argon2_pool_size or os.cpu_count() or 1
    reset_concurrency = 2 * pool_size
    log(f"work folder {workdir}")
    try:
        cli(env, workdir, "db", "upgrade")
        created = cli(env, workdir, "apps", "create", "--name", "bench", "--type", "web")
        client = Client(created["client_id"], created["client_secret"])
        groups = {"m1": 200, "m3": 150, "m4": 300}
        log("seeding users with a full password history")
        history_checked = asyncio.run(seed_users(settings, groups))
        server = start_service("server", ["ciam_server", "serve"], env, workdir, "/healthz")
        bench = Bench(settings, env, workdir, server, client, durations, history_checked)
        measurements: dict[str, Any] = {}
        # The machine's 1-minute load average after each phase: how much else was running.
        load: dict[str, float] = {"start": os.getloadavg()[0]}
        phases: list[tuple[str, str, Callable[[], dict[str, Any]]]] = [
            ("cheap", "2. cheap endpoints against a bare Litestar endpoint", bench.cheap_endpoints),
            ("sdk", "5. SDK against raw httpx", bench.sdk),
            ("argon2_before", "1. argon2 bound (before)", bench.argon2_rate),
            (
                "resets",
                f"1. resets at concurrency {reset_concurrency}",
                lambda: bench.resets(reset_concurrency, groups["m1"]),
            ),
            ("argon2_after", "1. argon2 bound (after)", bench.argon2_rate),
            (
                "sign_ins",
                f"7. sign-ins at concurrency {reset_concurrency}, then locked usernames",
                lambda: bench.sign_ins(reset_concurrency, SIGN_IN_USERS),
            ),
            (
                "healthz",
                "3. /healthz while resets saturate the CPU",
                lambda: bench.healthz_under_resets(reset_concurrency, groups["m3"]),
            ),
            ("burst", "4. 200 concurrent resets", lambda: bench.burst(200, groups["m4"])),
            (
                "peer",
                "6. against fastapi-users",
                lambda: bench.against_peer(
                    measurements["cheap"]["rates_per_s"]["send"], reset_concurrency
                ),
            ),
        ]
        try:
            for key, title, phase in phases:
                log(title)
                measurements[key] = phase()
                load[key] = os.getloadavg()[0]
        finally:
            server.stop()
        results: dict[str, Any] = {
            "command": "nox -s bench" + (" -- --quick" if arguments.quick else ""),
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(),
            "inputs": {
                "argon2_time_cost": settings.argon2_time_cost,
                "argon2_memory_kib": settings.argon2_memory_kib,
                "argon2_parallelism": settings.argon2_parallelism,
                "argon2_pool_size": pool_size,
                "argon2_queue_limit": settings.argon2_queue_limit,
                "password_history": settings.password_history,
                "history_checked": history_checked,
                "workers": 1,
                "reset_concurrency": reset_concurrency,
                "sign_in_max_failures": settings.sign_in_max_failures,
                "durations_s": durations.__dict__,
            },
            "measurements": measurements,
            "load_average_1min": load,
        }
        results["figures"] = figures(results)
        results["peer_figures"] = peer_figures(results)
        results["duration_s"] = time.monotonic() - started
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
        print_report(results)
    finally:
        if arguments.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
