"""What every feature shares: the context, the caller and its rights, loading with reach,
idempotency, throttling, ports and the base schemas."""
