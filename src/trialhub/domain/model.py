"""Transitional re-export of the entities, which now live by aggregate: `trial` and
`trial_parts`, `organization`, `accounts`, `consent`, `records` (and `ids`).

Only the parts other helpers of issue 9 rewrite at the same time (services/devices,
services/conversion, the store) still import it, so that their branches merge without
churn; the merge moves their imports to the new modules and removes this module.
"""

from trialhub.domain.accounts import Admin, ApiToken, Distributor, Partner
from trialhub.domain.consent import ConsentToken
from trialhub.domain.ids import new_id
from trialhub.domain.organization import (
    NO_END,
    AccessLevel,
    Customer,
    CustomerAssignment,
    CustomerState,
    OrgAdmin,
    Organization,
    OrgKind,
    OrgUser,
    Subscription,
)
from trialhub.domain.records import (
    AuditEvent,
    Channel,
    DueEvent,
    IdempotencyRecord,
    MailboxEmail,
    OutboxMessage,
    WebhookDelivery,
    WebhookEndpoint,
)
from trialhub.domain.trial import Trial
from trialhub.domain.trial_parts import Extension, MeetingsSite, TrialKind, TrialService

__all__ = [
    "NO_END",
    "AccessLevel",
    "Admin",
    "ApiToken",
    "AuditEvent",
    "Channel",
    "ConsentToken",
    "Customer",
    "CustomerAssignment",
    "CustomerState",
    "Distributor",
    "DueEvent",
    "Extension",
    "IdempotencyRecord",
    "MailboxEmail",
    "MeetingsSite",
    "OrgAdmin",
    "OrgKind",
    "OrgUser",
    "Organization",
    "OutboxMessage",
    "Partner",
    "Subscription",
    "Trial",
    "TrialKind",
    "TrialService",
    "WebhookDelivery",
    "WebhookEndpoint",
    "new_id",
]
