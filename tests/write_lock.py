"""Test support: whether another process could begin writing to a SQLite database right now
(nobody holds its write lock)."""

from __future__ import annotations

import sqlite3

from sqlalchemy.engine import make_url

from storage.db import Database


def another_process_could_write(database: Database) -> bool:
    """Tries BEGIN IMMEDIATE on a connection of its own, without waiting, and rolls back."""
    other = sqlite3.connect(make_url(database.url).database or "", timeout=0)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.rollback()
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()
