"""The chat window and its parts: header, banners, scrollback, people, input, files."""
