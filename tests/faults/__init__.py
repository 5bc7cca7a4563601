"""The fault suite (issue 8): kill -9 at random points, cut connections, restart the server, feed hostile mail.

Run just it with ``./scripts/test tests/faults``; the figures (kills survived, faults injected, inputs tried,
seed) are printed at the end of the run. ``FOLLOWUPD_FAULT_SEED`` replays a run.
"""
