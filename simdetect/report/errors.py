"""The one exception the report package raises for problems a user can fix."""

from __future__ import annotations


class ReportError(Exception):
    """A report cannot be made as asked (unknown artist, unreadable image, no Chromium…).

    The message is one line meant for the person at the command line.
    """
