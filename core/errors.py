"""One AppError base with flat subclasses; every message says what to do next."""


class AppError(Exception):
    """An error the user can act on; pages show str(error) as is."""


class BadInputError(AppError):
    """An uploaded file or form value cannot be used (wrong format, corrupt, unsafe)."""


class ModelFormatError(BadInputError):
    """A model file cannot be read or converted by OpenVINO."""


class DatasetError(BadInputError):
    """Data cannot be read, decoded or matched to the model's inputs."""


class UnsafeArchiveError(BadInputError):
    """An archive would write outside its folder, holds links, or unpacks too large."""


class UnsafePathError(AppError):
    """A stored path (from the database or a backup) points outside the data dir."""


class DiskFullError(AppError):
    """The data folder's disk has no room left for what the lab was writing."""


class CorruptDatabaseError(AppError):
    """The lab's database file is damaged or empty; the lab refuses to start over silently."""


class NotFoundError(AppError):
    """A model, dataset or job id that does not exist."""


class JobError(AppError):
    """A job cannot be submitted, cancelled or re-run in its current state."""


class JobCancelled(AppError):
    """The running job saw its cancel request and stopped (the job ends cancelled, not failed)."""


class ConfigError(AppError):
    """A setting (an OPTLAB_* variable) has a value the lab cannot use."""
