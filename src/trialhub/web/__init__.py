"""Server-rendered pages: the partner portal (sign-in, customers), the landing page, the API
docs, the customer's consent pages (rules K2, K3, K7) and the local mailbox (development)."""
