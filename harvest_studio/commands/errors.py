"""Errors raised by commands themselves, on top of the :class:`~harvest_studio.HarvestError`
family the client raises."""

from __future__ import annotations

from ..model.errors import HarvestError, UsageError
from ..model.filters import FilterError


class BadTimeError(UsageError):
    """A point in time that is neither ISO-8601 nor a duration ("2h" = two hours ago)."""

    code = "bad_time"


class AppLoadError(UsageError):
    """A worker module cannot be imported or holds no workflow or activity."""

    code = "bad_app_module"


class NoResetPointError(HarvestError):
    """The run's state offers no point to reset to (or no failed activity to retry from).

    Not a usage error: the same command works on a run in another state.
    """

    code = "no_reset_point"


class InvalidResetPointError(HarvestError):
    """The asked-for boundary is not a completed point; nothing was written."""

    code = "invalid_reset_point"


class NamespaceMissingError(HarvestError):
    """``namespace delete`` of a namespace that does not exist (a failure, not a usage
    error: the name is well-formed, there is just nothing by that name)."""

    code = "namespace_not_found"


# A filter that parses but compares a built-in field with a value it cannot take.
BadFilterValueError = FilterError

