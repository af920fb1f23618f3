"""Emails and webhooks: the outbox, delivery lanes, subscriptions, fan-out, the local mailbox."""
