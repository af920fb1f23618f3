"""What `goal_start.py` stands on: a scratch database with a partner, an administrator and
an API token; a live `trialhub serve` subprocess; fresh copies of a start's write set for
SQLAlchemy Core and for pgbench."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, Table, create_engine, text
from sqlalchemy.engine import make_url

from trialhub.bootstrap import make_context
from trialhub.clock import SystemClock
from trialhub.services import accounts
from trialhub.services.accounts.schemas import CreateAdmin, CreatePartner, IssueToken
from trialhub.services.demo import SYSTEM_OPERATOR
from trialhub.services.kernel.actor import Actor
from trialhub.services.kernel.context import Context
from trialhub.services.trials import start as trials
from trialhub.services.trials.schemas import StartTrial
from trialhub.store.db import Database, upgrade

TRIALHUB = Path(sys.executable).parent / "trialhub"
PG_ADMIN_URL = os.environ.get(
    "TRIALHUB_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
SCRATCH = "bench_goal_start"


@dataclass
class Bench:
    ctx: Context
    actor: Actor
    token: str

    @property
    def engine(self) -> Engine:
        return self.ctx.db.engine

    def start_in_process(self, email: str) -> None:
        trials.start_trial(self.ctx, self.actor, StartTrial.model_validate(start_body(email)))


def new_email() -> str:
    return f"x-{uuid.uuid4().hex}@bench.example"


def start_body(email: str) -> dict[str, Any]:
    """A new customer's trial, as the issue measured it (one service)."""
    return {
        "customer": {
            "company_name": "Bench",
            "admin_email": email,
            "business_vertical": "retail",
            "country": "FR",
            "supported_location_ack": True,
        },
        "services": [{"code": "messaging"}],
        "user_licenses": 5,
    }


@contextmanager
def scratch_database(backend: str) -> Iterator[str | None]:
    """A new, empty database of `backend` (None: PostgreSQL does not answer)."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/bench.db"
        return
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {SCRATCH} WITH (FORCE)"))
            conn.execute(text(f"CREATE DATABASE {SCRATCH}"))
    except Exception as error:  # no PostgreSQL here: the SQLite rows only
        print(f"   postgresql: {type(error).__name__}", flush=True)
        yield None
        return
    try:
        yield make_url(PG_ADMIN_URL).set(database=SCRATCH).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {SCRATCH} WITH (FORCE)"))
        admin.dispose()


def prepare(url: str) -> Bench:
    """The schema, a certified partner, its sales full administrator and an API token."""
    upgrade(url)
    ctx = make_context(Database.open(url), clock=SystemClock())
    partner = accounts.create_partner(ctx, SYSTEM_OPERATOR, CreatePartner(name="Bench"))
    admin = accounts.create_admin(
        ctx,
        SYSTEM_OPERATOR,
        partner.id,
        CreateAdmin(
            email=new_email(), name="Bench", roles=["sales_full_admin"], password="bench-pass"
        ),
    )
    actor = accounts.actor_for_email(ctx, admin.email)
    token = accounts.issue_token(ctx, actor, admin.id, IssueToken(label="bench")).token
    assert token is not None
    return Bench(ctx=ctx, actor=actor, token=token)


@contextmanager
def server(url: str, processes: int) -> Iterator[str]:
    """`trialhub serve --workers <processes>` on a free loopback port; access log off.
    `TRIALHUB_BENCH_PROCESSES=1` serves as a version without `--workers` did."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIALHUB_")}
    env.update(TRIALHUB_DATABASE_URL=url, TRIALHUB_LOG_LEVEL="warning")
    command = [str(TRIALHUB), "serve", "--port", str(port), "--no-worker"]
    command += ["--workers", str(processes)] if processes > 1 else []
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield _wait_until_up(process, log, f"http://127.0.0.1:{port}")
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_up(process: subprocess.Popen[bytes], log: Any, base: str) -> str:
    deadline = time.monotonic() + 120
    while True:
        if process.poll() is not None or time.monotonic() > deadline:
            log.seek(0)
            raise RuntimeError(f"trialhub serve did not start:\n{log.read().decode()}")
        try:
            httpx.get(f"{base}/healthz", timeout=1)
            return base
        except httpx.HTTPError:
            time.sleep(0.2)


def fresh_copy(
    plan: list[tuple[Table, list[dict[str, Any]]]], tokens: list[str], suffix: str
) -> list[tuple[Table, list[dict[str, Any]]]]:
    """The write set with every new id and the email made unique again (same prefix and
    length class, so that they fit their columns), JSON payloads included."""

    def swap(value: Any) -> Any:
        if isinstance(value, str):
            for token in tokens:
                value = value.replace(token, _renamed(token, suffix))
            return value
        if isinstance(value, (dict, list)):
            return json.loads(swap(json.dumps(value)))
        return value

    return [(table, [{k: swap(v) for k, v in row.items()} for row in rows]) for table, rows in plan]


def _renamed(token: str, suffix: str) -> str:
    """`org_<32 hex>` -> `org_<suffix>`; the email's local part `x-<hex>` -> `x-<suffix>`."""
    head = re.match(r"[a-z]+[_-]", token)
    return (head.group(0) if head else "") + suffix


def pgbench(
    url: str, plan: list[tuple[Table, list[dict[str, Any]]]], tokens: list[str], seconds: int
) -> float:
    """Transactions per second of `pgbench -n -c 8 -j 2` running the write set as a script
    (literal INSERTs; ids made unique per client and transaction with pgbench variables)."""
    import psycopg
    from psycopg import sql
    from psycopg.types.json import Json

    parsed = make_url(url)
    suffix = "p" + uuid.uuid4().hex[:6] + ":bench_n"
    lines = ["\\set i :i + 1", "\\set bench_n :client_id * 1000000000 + :i", "BEGIN;"]
    with psycopg.connect(host=parsed.host, user=parsed.username, dbname=parsed.database) as conn:
        for table, rows in fresh_copy(plan, tokens, suffix):
            for row in rows:
                values = [Json(v) if isinstance(v, (dict, list)) else v for v in row.values()]
                statement = sql.SQL("INSERT INTO {} ({}) VALUES ({});").format(
                    sql.Identifier(table.name),
                    sql.SQL(", ").join(map(sql.Identifier, row)),
                    sql.SQL(", ").join(map(sql.Literal, values)),
                )
                lines.append(statement.as_string(conn))
    lines.append("COMMIT;")
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write("\n".join(lines) + "\n")
    command = ["pgbench", "-n", "-c", "8", "-j", "2", "-T", str(seconds), "-D", "i=0"]
    command += ["-f", script.name, "-h", parsed.host or "127.0.0.1"]
    command += ["-U", parsed.username or "postgres", parsed.database or SCRATCH]
    try:
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(script.name)
    found = re.search(r"tps = ([0-9.]+)", out)
    assert found is not None, out
    return float(found.group(1))
