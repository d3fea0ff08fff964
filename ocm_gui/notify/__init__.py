"""Telling a person something happened while they looked elsewhere: notifications, flashing, sound."""
