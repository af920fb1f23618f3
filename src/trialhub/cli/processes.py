"""`trialhub serve --workers N`: N server processes in uvicorn's own multi-process mode, one
lifecycle worker.

The parent process migrates the database, prints the start-up lines and runs the lifecycle
worker (once: the worker is not in the server processes); uvicorn's supervisor, also in the
parent, binds the port and starts N server processes, each of which builds its own context
and app with `app_for_server_process` (an app factory, so nothing is shared but the socket
and the settings passed in the environment).
"""

from __future__ import annotations

import gc
import os
from typing import TYPE_CHECKING

from trialhub.bootstrap import build_context
from trialhub.services.kernel import Context
from trialhub.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

# whether the server processes serve a demo database (`serve --demo`), as the parent decided
DEMO_ENV = "TRIALHUB_SERVE_DEMO"
FACTORY = "trialhub.cli.processes:app_for_server_process"


def app_for_server_process() -> FastAPI:
    """The app of one server process (uvicorn calls it in each): the parent already migrated
    the database and set it up, and runs the lifecycle worker; this process only serves."""
    from trialhub.api.app import create_app
    from trialhub.api.security import redact_access_log

    settings = Settings()
    ctx = build_context(settings, demo=os.environ.get(DEMO_ENV) == "1", migrate=False)
    redact_access_log()  # uvicorn configured this process's loggers before loading the app
    app = create_app(ctx, forwarded_allow_ips=settings.forwarded_allow_ips)
    freeze_startup_objects()
    return app


def freeze_startup_objects() -> None:
    """Moves what start-up built (modules, the app, the catalog, mappings) out of the
    garbage collector's reach: its full passes then only walk what requests create, which
    shortens the periodic stalls behind a request's p99 (issue 11)."""
    gc.collect()
    gc.freeze()


def run_server_processes(
    ctx: Context, settings: Settings, url: str, host: str, port: int, *, workers: int, demo: bool
) -> None:
    """Serves with `workers` processes until interrupted (uvicorn's supervisor restarts one
    that dies). The processes share the database, the public URL and the secret that signs
    forms and sessions, so any of them answers any request."""

    os.environ.update(
        {
            "TRIALHUB_DATABASE_URL": url,
            "TRIALHUB_PUBLIC_URL": ctx.public_url,
            "TRIALHUB_SECRET_KEY": ctx.secret_key,
            DEMO_ENV: "1" if demo else "0",
        }
    )
    from uvicorn.supervisors import Multiprocess

    from trialhub.cli.tcp import TCPConfig

    config = TCPConfig(
        FACTORY,
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level=settings.log_level,
        proxy_headers=False,  # the app decides whom to believe (TRIALHUB_FORWARDED_ALLOW_IPS)
        # a process starting on a busy machine may take more than uvicorn's 5 s to answer
        # the supervisor's first ping; past this, a hung process is replaced
        timeout_worker_healthcheck=30,
    )
    # what `uvicorn.run` does with workers > 1, with the socket below
    Multiprocess(config, sockets=[config.bind_socket()]).run()
