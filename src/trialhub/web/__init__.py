"""Server-rendered pages: the partner portal, the landing page, consent and mailbox."""
