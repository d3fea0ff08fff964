"""The I/O shells: ChatServer, ChatClient, file transfers, discovery on the LAN."""
