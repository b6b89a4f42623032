"""kopf handlers: parse the resource, call the core, write status. Importing this package
registers every handler (``kopf run -m kafkaops.handlers``)."""

from kafkaops.handlers import consumers, startup, topics

__all__ = ["consumers", "startup", "topics"]
