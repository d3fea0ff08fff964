"""The main window's own parts: the room list on the left and the quick switcher."""
