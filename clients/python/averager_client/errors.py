"""The package's exceptions: one root type, subtypes for publishing and loading."""


class AveragerError(Exception):
    """Root of the exceptions this package raises about Kafka, records and checkpoints."""


class PublishError(AveragerError):
    """A snapshot could not be published; the publisher that raised it publishes nothing more."""


class CheckpointError(AveragerError):
    """No checkpoint matches, or the one found cannot be read or does not match its manifest."""
