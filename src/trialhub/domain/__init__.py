"""The pure domain: entities, the trial state machine, policy, roles and errors (no I/O)."""
