"""The shape of a deadline handler: features register theirs with the lifecycle tick."""

from __future__ import annotations

from collections.abc import Callable

from trialhub.domain.records import ClaimedDeadline, TrialFacts
from trialhub.domain.trial import Trial
from trialhub.services.kernel.context import Context
from trialhub.store.uow import UnitOfWork

# applies one due row of a trial inside the tick's transaction and says what it did
# ("obsolete" when the trial moved on and the deadline no longer holds)
DeadlineHandler = Callable[[Context, UnitOfWork, Trial, ClaimedDeadline], str]
# the same for a deadline whose handling reads its trial as values and changes no entity
# (`READS_VALUES`, the expiry notices): the worker loads no entity for it (issue 11)
NoticeHandler = Callable[[Context, UnitOfWork, TrialFacts, ClaimedDeadline], str]
