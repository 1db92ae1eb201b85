"""Logging set up from the config: text or JSON lines, to a file and/or stderr."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

from tabserve.config import LoggingSettings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(funcName)s:%(lineno)d %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the same fields as the text format."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "module": record.module,
            "function": record.funcName,
            "line": record.lineno,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure_logging(settings: LoggingSettings, stderr_level: str | None = None) -> None:
    """Replace tabserve's handlers with the configured ones; other loggers are left alone.

    The file (if any) gets ``settings.level``; stderr gets ``stderr_level``
    (default: the same), so the CLI can keep a terminal quiet but the file full.
    """
    formatter: logging.Formatter = (
        JsonFormatter() if settings.format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    logger = logging.getLogger("tabserve")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    levels = [logging.getLevelName(settings.level)]
    if stderr_level != "OFF":
        levels.append(logging.getLevelName(stderr_level or settings.level))
    logger.setLevel(min(levels))
    logger.propagate = False
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(formatter)
    stream.setLevel(stderr_level or settings.level)
    if stderr_level != "OFF":
        logger.addHandler(stream)
    if settings.file:
        path = Path(settings.file)
        path.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(path, encoding="utf-8")
        file_handler.setFormatter(formatter)
        file_handler.setLevel(settings.level)
        logger.addHandler(file_handler)
