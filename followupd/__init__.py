"""followupd: a self-hosted email follow-up assistant.

BCC a tracking address on mail you send; when nobody replies, followupd queues a short, humble follow-up
draft in your Drafts folder on a spaced, never-daily cadence, and stops the moment anyone answers.
"""

__version__ = "0.1.0"
