"""Search-only ACL grants: the service account passes through folders and sees nothing more."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path

from adpipe.runtime.access import Account, grant_search, may_search, open_path, read_acl

# Not us and not root: an account the folders below do not belong to.
STRANGER = Account(uid=os.geteuid() + 4242, gid=os.getegid() + 4242)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_plain_modes_decide_by_owner_group_and_other(tmp_path: Path) -> None:
    folder = tmp_path / "f"
    folder.mkdir(mode=0o700)
    me = Account(uid=os.geteuid(), gid=os.getegid())
    assert may_search(folder, me) and not may_search(folder, STRANGER)
    folder.chmod(0o701)
    assert may_search(folder, STRANGER)
    folder.chmod(0o710)
    group_member = Account(uid=STRANGER.uid, gid=folder.stat().st_gid)
    assert may_search(folder, group_member) and not may_search(folder, STRANGER)


def test_a_grant_lets_one_account_search_and_nothing_else_changes(tmp_path: Path) -> None:
    folder = tmp_path / "private"
    folder.mkdir(mode=0o750)
    grant_search(folder, STRANGER)
    assert may_search(folder, STRANGER)
    assert not may_search(folder, Account(uid=STRANGER.uid + 1, gid=STRANGER.gid))
    entries = read_acl(folder)
    assert entries is not None
    named = [e for e in entries if e.id == STRANGER.uid]
    assert [e.perm for e in named] == [0o1], "search only: the account cannot list the folder"
    # The group class shows the mask, which gained x only: group keeps r-x, other keeps nothing.
    assert _mode(folder) == 0o750

    grant_search(folder, STRANGER)  # twice is the same as once
    assert read_acl(folder) == entries


def test_a_grant_keeps_other_entries_and_never_widens_the_group(tmp_path: Path) -> None:
    folder = tmp_path / "f"
    folder.mkdir(mode=0o700)
    other = Account(uid=STRANGER.uid + 7, gid=STRANGER.gid)
    grant_search(folder, other)
    grant_search(folder, STRANGER)
    assert may_search(folder, other) and may_search(folder, STRANGER)
    member = Account(uid=STRANGER.uid + 9, gid=folder.stat().st_gid)
    assert not may_search(folder, member), "the owning group had no access and still has none"


def test_open_path_touches_only_the_folders_the_account_cannot_pass() -> None:
    # Not under tmp_path: its parents are 0700 as root, and open_path would open them too.
    base = Path(tempfile.mkdtemp(prefix="adpipe-access-"))
    try:
        base.chmod(0o755)
        top = base / "top"
        middle = top / "open"
        bottom = middle / "closed"
        bottom.mkdir(parents=True)
        top.chmod(0o700)
        middle.chmod(0o755)
        bottom.chmod(0o700)
        assert open_path(bottom, STRANGER) == [top, bottom]
        assert read_acl(middle) is None and read_acl(base) is None
        assert all(may_search(p, STRANGER) for p in (top, middle, bottom))
        assert open_path(bottom, STRANGER) == [], "nothing left to change"
    finally:
        shutil.rmtree(base)
