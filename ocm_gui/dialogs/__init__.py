"""The start window and the Host and Join dialogs."""
