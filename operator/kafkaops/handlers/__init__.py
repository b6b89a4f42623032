"""kopf registration and the controllers that carry out the domain's decisions. Importing this
package registers every handler (``kopf run -m kafkaops.handlers``)."""

from kafkaops.handlers import clusters, consumers, scaler, startup, tenancy, topics, users

__all__ = ["clusters", "consumers", "scaler", "startup", "tenancy", "topics", "users"]
