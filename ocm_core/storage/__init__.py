"""What the server keeps on disk: rooms and messages in SQLite, shared files, safe file names."""
