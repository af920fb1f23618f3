"""Use cases: one function per verb, one transaction each, shared by API, web, CLI and worker."""
