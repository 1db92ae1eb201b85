"""Write bytecode for the serving image's lean path, and only that (run inside the image build).

The serve image installs with ``pip --no-compile`` to stay small: bytecode for
every installed module is about 130 MB, and for scikit-learn, SciPy and pandas
alone about 40 MB, which would push the image past its 600 MB goal. This
imports what a server imports while it starts, loads a compiled model and
answers (tests/service/test_serving_lean.py holds it to that), so those modules
start from bytecode. Anything else still works: it is compiled in memory when
first imported (a model served by scikit-learn pays that once, when it loads).
"""

from __future__ import annotations

import importlib
import sys

MODULES = (
    "tabserve.cli",
    "tabserve.service.app",
    "tabserve.service.http.server",
    "tabserve.healthcheck",
    "tabserve.predictor",
    "tabserve.compiled_runtime",
    "tabserve.service.protocols.grpc.server",  # the image's config serves gRPC too
    "onnxruntime",
    "uvicorn.loops.uvloop",
    "uvicorn.protocols.http.httptools_impl",
    "uvicorn.protocols.http.h11_impl",
    "uvicorn.lifespan.on",
    "sqlalchemy.dialects.sqlite",
    "sqlalchemy.dialects.mysql.pymysql",
    "sqlalchemy.dialects.postgresql.psycopg",
    "boto3",
)


def main() -> int:
    """Import every module above; a missing one is a broken image, so the build fails."""
    if sys.flags.dont_write_bytecode:
        print("warm_imports: bytecode writing is off (PYTHONDONTWRITEBYTECODE)", file=sys.stderr)
        return 1
    for name in MODULES:
        importlib.import_module(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
