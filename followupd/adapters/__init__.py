"""The only code that talks to the outside world: IMAP (and IDLE), SMTP, credentials, the clock, the lock file
and the database (``store``). Each wraps one library and translates its errors into :mod:`followupd.errors`."""
