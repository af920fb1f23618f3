"""Persistence: SQLAlchemy tables mapped onto the domain, repositories, unit of work, migrations."""
