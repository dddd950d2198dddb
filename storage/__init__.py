"""Storage: database models, migrations, repositories and privacy primitives (no chat or web code)."""
