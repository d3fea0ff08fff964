"""Online Chat Messenger core: protocol, room registry, servers, client, CLI."""

__version__ = "0.1.0"
