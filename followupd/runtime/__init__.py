"""Running followupd: wiring an account together (``app``), the daemon loop, health, and ``doctor``."""
