"""The one error a user sees when a configured dataset cannot be loaded on this machine."""


class DatasetUnavailableError(RuntimeError):
    """A dataset is not available here (hub offline, package not installed, files missing).

    The message names the dataset and says how to get it; the library's internal exception is
    not chained, so the user sees one message rather than a deep traceback.
    """
