"""Letting one account pass through folders it may not enter, with a POSIX ACL entry of `--x`.

As root, the embedded Postgres runs as an unprivileged account; a project cloned into /root or a
`mktemp -d` folder (0700) sits behind folders that account cannot traverse, yet its cluster and
pgserver's binaries live inside. A named-user ACL entry granting search (x) only — not read, so
the account still cannot list anything — lets it reach exactly the paths it is given. The entry is
written straight into `system.posix_acl_access` (the kernel's own format), so no `setfacl` tool
is needed; the group class mask gains x only, so no other entry gains more than search.
"""

from __future__ import annotations

import errno
import os
import stat
import struct
from pathlib import Path

import msgspec

from adpipe.errors import AdpipeError

_XATTR = "system.posix_acl_access"
_VERSION = 2
_USER_OBJ, _USER, _GROUP_OBJ, _GROUP, _MASK, _OTHER = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
_UNDEFINED_ID = 0xFFFFFFFF
_ENTRY = struct.Struct("<HHI")
_HEADER = struct.Struct("<I")
_SEARCH = 0o1


class AccessError(AdpipeError, PermissionError):
    """An account cannot be given a way through a folder."""


class Account(msgspec.Struct, frozen=True, kw_only=True):
    uid: int
    gid: int
    groups: frozenset[int] = frozenset()


class _Entry(msgspec.Struct, frozen=True):
    tag: int
    perm: int
    id: int = _UNDEFINED_ID


def read_acl(path: Path) -> list[_Entry] | None:
    """The access ACL of `path`, or None when it has only its mode bits."""
    try:
        raw = os.getxattr(path, _XATTR, follow_symlinks=True)
    except OSError as error:
        if error.errno in (errno.ENODATA, errno.EOPNOTSUPP):
            return None
        raise
    (version,) = _HEADER.unpack_from(raw)
    if version != _VERSION:
        raise AccessError(f"{path} has an ACL of unknown version {version}")
    return [_Entry(*fields) for fields in _ENTRY.iter_unpack(raw[_HEADER.size :])]


def _acl_from_mode(mode: int) -> list[_Entry]:
    return [
        _Entry(_USER_OBJ, (mode >> 6) & 0o7),
        _Entry(_GROUP_OBJ, (mode >> 3) & 0o7),
        _Entry(_OTHER, mode & 0o7),
    ]


def may_search(path: Path, account: Account) -> bool:
    """Whether `account` may pass through the folder `path` (POSIX ACL access check, search)."""
    if account.uid == 0:
        return True
    info = path.stat()
    entries = read_acl(path) or _acl_from_mode(info.st_mode)
    by_tag: dict[int, list[_Entry]] = {}
    for entry in entries:
        by_tag.setdefault(entry.tag, []).append(entry)
    mask = by_tag[_MASK][0].perm if _MASK in by_tag else 0o7
    if info.st_uid == account.uid:
        return bool(by_tag[_USER_OBJ][0].perm & _SEARCH)
    for entry in by_tag.get(_USER, []):
        if entry.id == account.uid:
            return bool(entry.perm & mask & _SEARCH)
    gids = account.groups | {account.gid}
    group_perms = [by_tag[_GROUP_OBJ][0].perm] if info.st_gid in gids else []
    group_perms += [e.perm for e in by_tag.get(_GROUP, []) if e.id in gids]
    if group_perms:
        return any(perm & mask & _SEARCH for perm in group_perms)
    return bool(by_tag[_OTHER][0].perm & _SEARCH)


def grant_search(path: Path, account: Account) -> None:
    """Add (or widen) `account`'s named-user entry on `path` to include search (x)."""
    info = path.stat()
    existing = read_acl(path)
    entries = existing if existing is not None else _acl_from_mode(info.st_mode)
    users = {e.id: e.perm for e in entries if e.tag == _USER}
    users[account.uid] = users.get(account.uid, 0) | _SEARCH
    group_obj = next(e.perm for e in entries if e.tag == _GROUP_OBJ)
    old_mask = next((e.perm for e in entries if e.tag == _MASK), group_obj)
    rebuilt = [e for e in entries if e.tag == _USER_OBJ]
    rebuilt += [_Entry(_USER, perm, uid) for uid, perm in sorted(users.items())]
    rebuilt += [e for e in entries if e.tag == _GROUP_OBJ]
    rebuilt += sorted((e for e in entries if e.tag == _GROUP), key=lambda e: e.id)
    rebuilt.append(_Entry(_MASK, old_mask | _SEARCH))
    rebuilt += [e for e in entries if e.tag == _OTHER]
    raw = _HEADER.pack(_VERSION) + b"".join(_ENTRY.pack(e.tag, e.perm, e.id) for e in rebuilt)
    try:
        os.setxattr(path, _XATTR, raw, follow_symlinks=True)
    except OSError as error:
        raise AccessError(
            f"cannot let uid {account.uid} pass through {path}: {error.strerror}; put the "
            "project and ADPIPE_HOME in folders that account can enter, or run adpipe as a "
            "regular user"
        ) from error


def open_path(target: Path, account: Account) -> list[Path]:
    """Make every folder from / down to `target` passable for `account`; return those changed.

    Only folders the account cannot already pass through are touched.
    """
    changed = []
    target = target.resolve()
    for folder in [*reversed(target.parents), target]:
        if not stat.S_ISDIR(folder.stat().st_mode) or may_search(folder, account):
            continue
        grant_search(folder, account)
        changed.append(folder)
    return changed
