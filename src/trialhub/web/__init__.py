"""Server-rendered pages: for now the landing page that points at the API."""
