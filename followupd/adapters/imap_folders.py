"""Which folders followupd uses on a server: configured names checked, the others discovered.

Pure (a LIST result in, folder choices out), so the fallbacks can be tested against listings of servers we
cannot run here; :meth:`followupd.adapters.imap.Mailbox.resolve_folders` does the LIST.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from followupd.errors import MailboxError

__all__ = ["ListedFolder", "ResolvedFolders", "resolve_listing"]

# The IMAP adapter's name: its log lines read "followupd.imap" whichever of its modules writes them.
logger = logging.getLogger("followupd.adapters.imap")

# Name fallbacks for servers without SPECIAL-USE (RFC 6154), most common first. Compared case-insensitively,
# with and without the "INBOX." / "INBOX/" personal-namespace prefix some servers (Courier, Cyrus) use.
_SENT_NAMES = ("Sent", "Sent Items", "Sent Messages", "Sent Mail", "Sent Items (This computer only)")
_DRAFTS_NAMES = ("Drafts", "Draft", "Drafts (This computer only)")
_ARCHIVE_NAMES = ("Archive", "Archives")
_NAMESPACE_PREFIXES = ("", "INBOX.", "INBOX/")


@dataclass(frozen=True)
class ResolvedFolders:
    """Where followupd reads and writes for this account, as names the server accepts verbatim."""

    sent: str | None
    drafts: str | None
    watch: tuple[str, ...]
    archive: str | None


@dataclass(frozen=True)
class ListedFolder:
    name: str
    attributes: frozenset[str]  # lower-cased, so a server's "\\SENT" still counts as "\\Sent"

    @property
    def selectable(self) -> bool:
        return not ({"\\noselect", "\\nonexistent"} & self.attributes)


def resolve_listing(folders: Sequence[ListedFolder], *, sent: str | None, drafts: str | None,
             watch: tuple[str, ...] | None, where: str) -> ResolvedFolders:
    """The pure part of :meth:`Mailbox.resolve_folders`: a LIST result in, folder choices out."""
    sent_name = (_configured(sent, "sent", folders, where) if sent is not None
                 else _discover("\\sent", _SENT_NAMES, folders))
    drafts_name = (_configured(drafts, "drafts", folders, where) if drafts is not None
                   else _discover("\\drafts", _DRAFTS_NAMES, folders))
    archive = _discover("\\archive", _ARCHIVE_NAMES, folders)
    all_mail = next((f.name for f in folders if f.selectable and "\\all" in f.attributes), None)
    if watch is None and all_mail is not None:
        # Gmail's All Mail (SPECIAL-USE \All, RFC 6154) holds INBOX, archived and labelled mail alike: one
        # folder to watch, and nothing is missed when the user archives a reply before followupd sees it.
        watched: tuple[str, ...] = (all_mail,)
    elif watch is None:
        watched = ("INBOX",) + ((archive,) if archive and archive != "INBOX" else ())
    else:
        watched = tuple(dict.fromkeys(_configured(name, "watch", folders, where) for name in watch))
    if sent_name is None:
        logger.warning("%s: no Sent folder found (no \\Sent attribute, no usual name); set it in the config",
                       where)
    if drafts_name is None:
        logger.warning("%s: no Drafts folder found (no \\Drafts attribute, no usual name); set it in the "
                       "config", where)
    return ResolvedFolders(sent=sent_name, drafts=drafts_name, watch=watched, archive=archive)


def _configured(name: str, key: str, folders: Sequence[ListedFolder], where: str) -> str:
    """``name`` as the server spells it, or a MailboxError that lists what does exist."""
    # RFC 3501 §5.1: INBOX is case-insensitive; every other name is matched exactly.
    if name.upper() == "INBOX":
        return "INBOX"
    for folder in folders:
        if folder.name == name:
            if not folder.selectable:
                raise MailboxError(f"folder {name!r} (configured as {key}) on {where} cannot be opened: "
                                   "it only holds other folders (\\Noselect)")
            return folder.name
    existing = ", ".join(sorted(repr(f.name) for f in folders if f.selectable)) or "none"
    hint = next((f.name for f in folders if f.name.casefold() == name.casefold()), None)
    suggestion = f"; did you mean {hint!r}?" if hint else ""
    raise MailboxError(f"folder {name!r} (configured as {key}) does not exist on {where}{suggestion}. "
                       f"Existing folders: {existing}")


def _discover(attribute: str, names: Sequence[str], folders: Sequence[ListedFolder]) -> str | None:
    """The folder carrying SPECIAL-USE ``attribute`` (lower-case), else the first one with a usual name.

    Never a ``\\All`` folder (Gmail's All Mail), even when a server marks it with the attribute we look for
    too. Pure, so the fallbacks can be tested against listings of servers we cannot run here.
    """
    candidates = [f for f in folders if f.selectable and "\\all" not in f.attributes]
    for folder in candidates:
        if attribute in folder.attributes:
            return folder.name
    by_name = {f.name.casefold(): f.name for f in candidates}
    for prefix in _NAMESPACE_PREFIXES:
        for base in names:
            found = by_name.get((prefix + base).casefold())
            if found is not None:
                return found
    return None
