"""The one error a user sees when a configured encoder cannot be had on this machine."""


class EncoderUnavailableError(RuntimeError):
    """An encoder's weights are not available here (hub offline and not cached, offline package
    not installed, wrong model name).

    The message names the encoder and says how to get it; the library's internal exception is
    not chained, so the user sees one message rather than a deep traceback.
    """
