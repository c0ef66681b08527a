"""docs/performance.md is written by several benchmarks: ``suite.py`` owns what comes
before :data:`OTHER_SECTIONS`, and each other benchmark owns one ``## `` section after
it. This module is what they share (it imports nothing of theirs)."""

from __future__ import annotations

import os
import re

#: sections of docs/performance.md after this line come from other benchmarks
OTHER_SECTIONS = "<!-- sections below are written by other benchmarks; suite.py keeps them -->"


def write_keeping_other_sections(path: str, text: str) -> None:
    """Write ``text`` to ``path``, keeping what follows :data:`OTHER_SECTIONS` there."""
    tail = ""
    if os.path.exists(path):
        with open(path) as fh:
            old = fh.read()
        if OTHER_SECTIONS in old:
            tail = "\n" + old[old.index(OTHER_SECTIONS):]
    with open(path, "w") as fh:
        fh.write(text + tail)


def replace_section(path: str, heading: str, section: str) -> None:
    """Replace the section after :data:`OTHER_SECTIONS` whose ``## `` heading starts
    with ``heading`` by ``section`` (appended when there is none)."""
    text = ""
    if os.path.exists(path):
        with open(path) as fh:
            text = fh.read()
    if OTHER_SECTIONS not in text:
        text = text.rstrip("\n") + "\n\n\n" + OTHER_SECTIONS + "\n"
    head, tail = text.split(OTHER_SECTIONS, 1)
    mine = re.compile(r"^## " + re.escape(heading) + r".*?(?=^## |\Z)", re.M | re.S)
    section = section.rstrip("\n") + "\n"
    if mine.search(tail):
        tail = mine.sub(lambda _: section + "\n", tail, count=1).rstrip("\n") + "\n"
    else:
        tail = tail.rstrip("\n") + "\n\n" + section
    with open(path, "w") as fh:
        fh.write(head + OTHER_SECTIONS + tail)
