"""Deciding what happens to a tracked thread: the tracking address and its suffix, matching mail to threads,
the cadence and its calendar, and what a matched message means. Pure: plain data in, plain data out."""
