"""trialhub: start and run cloud-service trials for a reseller's customers."""

__version__ = "0.1.0"
