"""Decisions without I/O: a member's session, the server's room registry, admission; clock passed in."""
