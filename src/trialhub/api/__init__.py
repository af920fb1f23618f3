"""The REST API: FastAPI app factory, routers per resource, bearer auth, problem+json errors."""
