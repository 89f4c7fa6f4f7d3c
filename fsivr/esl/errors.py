"""What the transport raises to whoever waits on a channel."""


class EslError(Exception):
    """Base of transport errors."""


class ChannelHangup(EslError):
    """The channel hung up (or the connection to FreeSWITCH ended) while we waited."""

    def __init__(self, cause: str = "NORMAL_CLEARING", by: str = "caller") -> None:
        self.cause, self.by = cause, by
        super().__init__(f"channel hung up ({cause}, by {by})")


class CommandTimeout(EslError):
    """FreeSWITCH did not answer or complete within the time we allow."""


class CommandFailed(EslError):
    """FreeSWITCH answered a command with -ERR."""


class ChannelLeft(EslError):
    """The channel left the socket application (a transfer, a queue, a park, a blind transfer by
    the far end): it is alive but no longer ours to drive. The connection stays and keeps
    delivering its events until it hangs up (traces 07, 10)."""
