"""Logging set up from the config: text or JSON lines, to a file and/or stderr."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

from tabserve.config import LoggingSettings

# Loggers that write through tabserve's handlers: its own, and uvicorn's (server start, stop, errors).
SHARED_LOGGERS = ("tabserve", "uvicorn")
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


class _FirstWriteFileHandler(logging.FileHandler):
    """A log file (and its folder) made at the first line logged: a command that logs nothing leaves none."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, encoding="utf-8", delay=True)

    def _open(self):  # type: ignore[no-untyped-def]
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        return super()._open()


def configure_logging(settings: LoggingSettings, stderr_level: str | None = None) -> None:
    """Replace tabserve's and uvicorn's handlers with the configured ones; other loggers are left alone.

    The file (if any) gets ``settings.level``; stderr gets ``stderr_level``
    (default: the same), so the CLI can keep a terminal quiet but the file full.
    uvicorn's lines go through the same handlers, so a server's log has one
    format (text or JSON) whoever wrote the line.
    """
    formatter: logging.Formatter = (
        JsonFormatter() if settings.format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    handlers: list[logging.Handler] = []
    if stderr_level != "OFF":
        stream = logging.StreamHandler(sys.stderr)
        stream.setLevel(stderr_level or settings.level)
        handlers.append(stream)
    if settings.file:
        file_handler = _FirstWriteFileHandler(Path(settings.file))
        file_handler.setLevel(settings.level)
        handlers.append(file_handler)
    levels = [logging.getLevelName(settings.level)]
    if stderr_level != "OFF":
        levels.append(logging.getLevelName(stderr_level or settings.level))
    for handler in handlers:
        handler.setFormatter(formatter)
    for name in SHARED_LOGGERS:
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
            handler.close()
        logger.setLevel(min(levels))
        logger.propagate = False
        for handler in handlers:
            logger.addHandler(handler)
