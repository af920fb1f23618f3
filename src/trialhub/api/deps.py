"""FastAPI dependencies as Annotated aliases: the context, the caller, idempotent execution."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from trialhub.api.problems import problem_body
from trialhub.domain.errors import Conflict, TrialhubError, Unauthenticated
from trialhub.services.accounts import authenticate_token
from trialhub.services.kernel import Actor, Context, idempotency

_bearer = HTTPBearer(auto_error=False, description="An API token: `Authorization: Bearer th_…`")


async def get_context(request: Request) -> Context:
    """Async: it only reads the app's state, so it runs on the event loop; a plain `def`
    would cost every request a hop to the thread pool and back (issue 11)."""
    ctx: Context = request.app.state.ctx
    return ctx


ContextDep = Annotated[Context, Depends(get_context)]


def client_address(request: Request) -> str:
    """The socket peer, or what a trusted proxy says it is (`TRIALHUB_FORWARDED_ALLOW_IPS`)."""
    return request.client.host if request.client else ""


def get_actor(
    request: Request,
    ctx: ContextDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    if credentials is None or not credentials.credentials:
        raise Unauthenticated("Send an API token: Authorization: Bearer <token>.")
    return authenticate_token(ctx, credentials.credentials, address=client_address(request))


CurrentActor = Annotated[Actor, Depends(get_actor)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Retrying with the same key returns the first response instead of acting twice",
    ),
]


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


class Idempotent:
    """Runs a mutating call at most once per `Idempotency-Key` and replays its response.

    The caller is authenticated at the first use of `actor`, which `run` makes first: in the
    endpoint's own trip to the thread pool. As a dependency of its own, authentication cost
    every write a trip there and back of its own (issue 11). A request whose body is also
    invalid is authenticated before its 422 is answered (`api.problems`): a caller who may
    not write is told so first, whatever it sent, as before."""

    def __init__(
        self,
        request: Request,
        ctx: Context,
        credentials: HTTPAuthorizationCredentials | None,
        key: str | None = None,
    ) -> None:
        self.request = request
        self.ctx = ctx
        self.key = key
        self._credentials = credentials
        self._actor: Actor | None = None

    @property
    def actor(self) -> Actor:
        """The caller (blocking: a database read the first time)."""
        if self._actor is None:
            self._actor = get_actor(self.request, self.ctx, self._credentials)
        return self._actor

    def run(
        self,
        fn: Callable[[], BaseModel | None],
        *,
        status_code: int = 200,
        body: Callable[[], Any] = lambda: None,
    ) -> JSONResponse:
        """`body` gives what of the request a retry must repeat; asked only with a key."""
        self.actor  # noqa: B018  # who calls, before anything is claimed or done
        if not self.key:
            return _respond(fn(), status_code)
        fingerprint = json.dumps(
            [self.request.method, self.request.url.path, str(self.request.url.query), body()],
            sort_keys=True,
            default=str,
        )
        request_hash = hashlib.sha256(fingerprint.encode()).hexdigest()
        claimed = idempotency.claim(self.ctx, self.actor, self.key, request_hash)
        if isinstance(claimed, idempotency.StoredResponse):
            return JSONResponse(
                json.loads(claimed.body) if claimed.body else None,
                status_code=claimed.status_code,
                headers={"Idempotent-Replayed": "true"},
                media_type="application/problem+json" if claimed.status_code >= 400 else None,
            )
        try:
            # the use case's commit is held until its answer is recorded in it
            with claimed.held.active():
                result = fn()
            response = _respond(result, status_code)
        except TrialhubError as error:
            claimed.held.rollback()  # an error changes nothing (rule E3)
            status, problem = problem_body(error)
            try:
                idempotency.finish(self.ctx, claimed, status, json.dumps(problem))
            except Conflict as taken_over:
                # a retry took the key over meanwhile: the key's outcome is the retry's, and
                # this error may be the race with it (the retry's rows first): say so
                raise taken_over from error
            raise
        except BaseException:
            idempotency.abandon(self.ctx, claimed)
            raise
        idempotency.finish(self.ctx, claimed, status_code, bytes(response.body).decode())
        return response


def _respond(result: BaseModel | None, status_code: int) -> JSONResponse:
    content = result.model_dump(mode="json") if result is not None else None
    return JSONResponse(content, status_code=status_code)


async def idempotent(
    request: Request, ctx: ContextDep, credentials: Credentials, key: IdempotencyKey = None
) -> Idempotent:
    """Async: it only bundles what the request resolved. As a class dependency its plain
    `__init__` ran in the thread pool: a hop there and back on every write (issue 11). The
    caller is authenticated later, in the endpoint's thread (`Idempotent`); until then the
    request carries it for `api.problems`, which authenticates before answering a 422."""
    run = Idempotent(request, ctx, credentials, key)
    request.state.unauthenticated_caller = run
    return run


def caller_not_yet_authenticated(request: Request) -> Idempotent | None:
    """A write's caller whose authentication waits for the endpoint (`idempotent`)."""
    found = getattr(request.state, "unauthenticated_caller", None)
    return found if isinstance(found, Idempotent) else None


IdempotentDep = Annotated[Idempotent, Depends(idempotent)]
