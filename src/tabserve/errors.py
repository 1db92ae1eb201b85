"""Domain errors shared by the CLI and the HTTP service.

Each interface translates these in one place (exit codes in the CLI, status
codes in the service), so the core never knows how it is being called.
"""

from __future__ import annotations

from collections.abc import Sequence


class TabserveError(Exception):
    """Base for every error tabserve reports to a user as a message.

    ``local_hint`` is for whoever runs the command on this machine (the CLI prints it
    under the error): it may name what the message must not, such as a table's header,
    so the service never shows it.
    """

    local_hint: str | None = None


class ConfigError(TabserveError):
    """A config value is missing, unknown or of the wrong kind."""


class DataError(TabserveError):
    """The training data cannot be loaded or does not fit the config."""


class InputError(TabserveError):
    """Prediction input does not match the model's feature schema."""


class NotFoundError(TabserveError):
    """A model, version, alias or job does not exist."""


class NoModelError(NotFoundError):
    """Nothing has been trained yet, so there is nothing to serve."""


class NotAcceptedError(TabserveError):
    """The request is well formed but not allowed here (e.g. an unknown override section)."""


class OutputUnavailableError(NotAcceptedError):
    """The request asks for an output the model does not give (probabilities from an SVC)."""


class ConflictError(TabserveError):
    """The request clashes with work already in progress."""

    def __init__(self, message: str, job_id: str | None = None) -> None:
        super().__init__(message)
        self.job_id = job_id


class GateRefusedError(ConflictError):
    """A promotion gate refused an alias move; the message names each gate and its figures.

    ``gates`` names the refusing gates; ``overridable`` says whether ``force`` would get past them
    (not when the config forbids overriding). The smoke prediction is not a gate one can override:
    its refusal is a SmokeTestError.
    """

    def __init__(self, message: str, gates: Sequence[str] = (), overridable: bool = True) -> None:
        super().__init__(message)
        self.gates = list(gates)
        self.overridable = overridable


class IntegrityError(TabserveError):
    """A stored artifact is missing, altered or of an untrusted type."""


class UntrustedTypesError(IntegrityError):
    """A model file holds types neither built in nor trusted by the loading side's config."""

    def __init__(self, message: str, types: list[str] | None = None) -> None:
        super().__init__(message)
        self.types = list(types or [])


REGISTRY_UNREACHABLE = "the registry database is unreachable"


class BackendUnavailableError(TabserveError):
    """A database or object store the registry needs cannot be reached.

    The message names what (driver, user, host, port, database) for the log and
    the CLI; ``public`` is what a 503 tells anyone who asks, naming nothing.
    """

    def __init__(self, message: str, public: str = REGISTRY_UNREACHABLE) -> None:
        super().__init__(message)
        self.public = public


class ServeOnlyError(TabserveError):
    """This install serves models but cannot train or draw: the `train` extra is not installed."""
