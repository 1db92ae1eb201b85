"""Column types the registry's tables share (tables.py and prediction_table.py)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


class _LongText(sa.types.TypeDecorator):
    """JSON documents: TEXT, or LONGTEXT on MySQL/MariaDB, where TEXT holds only 64 kB.

    A decorator rather than ``with_variant(mysql.LONGTEXT())`` so that importing
    the registry (every `tabserve models` command) does not import SQLAlchemy's
    MySQL dialect when the registry is SQLite or PostgreSQL.
    """

    impl = sa.Text
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            from sqlalchemy.dialects.mysql import LONGTEXT

            return LONGTEXT()
        return sa.Text()


LongText = _LongText()
Name = sa.String(100)
