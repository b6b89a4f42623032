"""Value types and Protocols shared by the domain (topics, consumers) and the adapters (kafka,
kube): the one place both sides import, so neither imports the other."""
