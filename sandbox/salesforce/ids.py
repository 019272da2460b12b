"""Salesforce record ids: 3-character key prefix, 15 case-sensitive characters, 18-character form.

The 18-character id appends a 3-character checksum of the upper-case positions of the 15-character
id, so it survives case-insensitive tools (Salesforce "Working with Record IDs", REST API guide and
Knowledge article 000385585). The emulator hands out 18-character ids and accepts both forms.
"""

from __future__ import annotations

import functools
import hashlib
import re
import string

KEY_PREFIXES: dict[str, str] = {
    "Account": "001",
    "Contact": "003",
    "User": "005",
    "Lead": "00Q",
    "Task": "00T",
    "Event": "00U",
    "CampaignMember": "00v",
    "Campaign": "701",
    "QueryLocator": "01g",
    "Job": "750",
    "OrgId": "00D",
}
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_CHECKSUM_ALPHABET = string.ascii_uppercase + "012345"
_ID_RE = re.compile(r"^[a-zA-Z0-9]{15}([A-Z0-5]{3})?$")
_POD = "5g"  # the two "instance" characters after the key prefix; fixed for the sandbox org


def to_18(id15: str) -> str:
    """Append the case-safety checksum to a 15-character id (18-character ids pass through)."""
    if len(id15) == 18:
        return id15
    suffix = ""
    for chunk in range(3):
        bits = 0
        for position, char in enumerate(id15[chunk * 5 : chunk * 5 + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << position
        suffix += _CHECKSUM_ALPHABET[bits]
    return id15 + suffix


@functools.lru_cache(maxsize=65536)
def normalize(value: str) -> str | None:
    """The 18-character form of a 15/18-character id, or None when it is not shaped like an id."""
    if not _ID_RE.match(value):
        return None
    return to_18(value[:15])


def _base62(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, rem = divmod(number, 62)
        chars.append(_BASE62[rem])
    return "".join(reversed(chars))


def derived_id(sobject: str, key: str) -> str:
    """A stable id for a record made from portal data (same portal key -> same id every run)."""
    digest = int.from_bytes(hashlib.blake2b(f"{sobject}:{key}".encode(), digest_size=8).digest())
    # "0" after the pod keeps derived ids apart from sequential ones, which use "1".
    return to_18(KEY_PREFIXES[sobject] + _POD + "0" + _base62(digest, 9))


def sequential_id(sobject: str, number: int) -> str:
    """The id of the `number`-th record created through the API for this object."""
    return to_18(KEY_PREFIXES[sobject] + _POD + "1" + _base62(number, 9))


def prefix_object(record_id: str) -> str | None:
    """Which sObject an id belongs to, from its key prefix."""
    for name, prefix in KEY_PREFIXES.items():
        if record_id.startswith(prefix):
            return name
    return None
