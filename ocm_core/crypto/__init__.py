"""TLS over memory buffers, sealed datagrams, identities and trusted keys."""
