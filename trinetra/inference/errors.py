"""What can go wrong when asking Triton, as types a caller can act on."""


class InferenceError(RuntimeError):
    """Base class: the call did not produce a result."""


class InvalidInputError(InferenceError):
    """The server refused this input (corrupt, empty, wrong type, too large): retrying the
    same input cannot help."""


class InferenceUnavailableError(InferenceError):
    """The server could not be reached, or the model was not ready, within the retries."""


class InferenceTimeoutError(InferenceError):
    """The call did not finish within its deadline."""
