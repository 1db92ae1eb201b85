"""Column types the registry's tables share (tables.py and prediction_table.py)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

# JSON documents: TEXT holds only 64 kB on MySQL/MariaDB.
LongText = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
Name = sa.String(100)
