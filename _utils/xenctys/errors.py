"""The one exception family of the core.

Every failure the core reports is a :class:`XenError` with a one-line message.  The Salt
adapters turn it into ``CommandExecutionError`` (modules, runners) or ``result: False``
(states); nothing else should escape the core.
"""


class XenError(Exception):
    """Base of every error raised by the core.  ``str(err)`` is one line."""

    def __init__(self, message):
        # One line, always: Salt prints the message as the whole error.
        message = " ".join(str(message).split())
        super().__init__(message)
        self.message = message


# --- configuration files -------------------------------------------------------------------------


class ConfigError(XenError):
    """A DomU config file cannot be read or parsed.  Names file, line and reason."""

    def __init__(self, path, line, reason):
        self.path = path
        self.line = line
        self.reason = reason
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {reason}")


# --- machine addresses ---------------------------------------------------------------------------


class AddressError(XenError):
    """A machine address (or its suboptions) is malformed."""


class NoMatchError(AddressError):
    """No DomU config or domain matches the address."""


class AmbiguousAddressError(AddressError):
    """More than one candidate matches; ``candidates`` lists them (dicts)."""

    def __init__(self, message, candidates=()):
        self.candidates = list(candidates)
        super().__init__(message)


# --- the toolstack (xl / xm) ---------------------------------------------------------------------


class ToolstackError(XenError):
    """A toolstack call failed.  ``argv``, ``rc`` and ``stderr`` say how."""

    def __init__(self, message, argv=None, rc=None, stderr=""):
        self.argv = list(argv or [])
        self.rc = rc
        self.stderr = stderr
        super().__init__(message)


class ToolstackNotFound(ToolstackError):
    """Neither ``xl`` nor ``xm`` is installed (or the configured one is missing)."""


class ToolstackTimeout(ToolstackError):
    """The toolstack did not answer within the timeout; its process was killed."""


class UnknownDomainError(ToolstackError):
    """The toolstack does not know the domain (``... is an invalid domain identifier``)."""


class DomainExistsError(ToolstackError):
    """A domain with that name is already running (``Domain with name "x" already exists``)."""


class StateFileError(ToolstackError):
    """A save/restore state file is missing, unreadable, or would be overwritten."""


class ToolstackPermissionError(ToolstackError):
    """The caller may not talk to the hypervisor (not root, privilege prefix refused)."""


class NoHypervisorError(ToolstackError):
    """No Xen hypervisor or no xenstored/libxl connection on this host."""
