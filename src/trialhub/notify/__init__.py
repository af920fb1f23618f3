"""Delivery adapters: email rendering (Jinja2), SMTP, the local mailbox, signed webhooks."""
