"""Who the phone's owner is in a group chat export, from the private chats beside it.

A QQ private-chat export names the other side (``消息对象:张三``), so everyone else who writes in
it is the owner. Those names (with the QQ number or e-mail QQ puts in brackets, when there is one)
identify the owner in a group export from the same folder:

    owners, used = owner_from_private_chats(group_path)   # ({"小明(10001)"}, [Path("…/张三.txt")])
"""

from __future__ import annotations

from pathlib import Path

from pipeline.errors import InputError
from pipeline.messages.chat_text import OWNER_NAMES, identity, parse_chat_text

_MAX_FILES = 50


def owner_from_private_chats(group_path: Path) -> tuple[set[str], list[Path]]:
    """The owner's sender names in the private chat exports beside ``group_path``, and those files.

    Only ``.txt`` exports in the same folder with a ``消息对象`` line that are not group chats count.
    Names that conflict (two different QQ numbers) are all returned; the caller reports them.
    """
    owners: set[str] = set()
    used: list[Path] = []
    siblings = sorted(p for p in Path(group_path).parent.glob("*") if p.suffix.lower() == ".txt" and p != group_path)
    for path in siblings[:_MAX_FILES]:
        try:
            parsed = parse_chat_text(path)
        except InputError:
            continue
        if parsed.meta.get("group") or not parsed.meta.get("counterpart"):
            continue
        names = {m.sender for m in parsed.messages if m.direction == "sent" and m.sender
                 and identity(m.sender)[0].lower() not in OWNER_NAMES}
        if names:
            owners |= names
            used.append(path)
    return owners, used


def describe(used: list[Path]) -> str:
    """How the owner was inferred, for the group-chat notice."""
    names = "、".join(p.name for p in used[:3]) + ("等" if len(used) > 3 else "")
    return f"同一文件夹的私聊记录 {names}"
