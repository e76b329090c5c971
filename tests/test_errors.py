"""An error is always one short, printable line: control characters escaped, the message capped."""
from __future__ import annotations

from edgekit.errors import MAX_MESSAGE, DataError, printable


def test_a_file_name_with_a_newline_stays_on_one_line():
    line = str(DataError("cannot read\nthis", "faces/a\nb\x1b[31m.jpg"))
    assert line == "faces/a\\nb\\x1b[31m.jpg: cannot read this"


def test_a_name_that_is_not_utf8_prints():
    line = str(DataError("bad", "faces/\udcff.jpg"))  # os.fsdecode of the byte 0xff
    assert line == "faces/\\udcff.jpg: bad" and line.encode("ascii")


def test_a_huge_message_is_capped():
    line = str(DataError("value " + "x" * 10**7, "recipe.yaml"))
    message = line.removeprefix("recipe.yaml: ")
    assert len(message) == MAX_MESSAGE and message.endswith("...")


def test_printable_keeps_printable_text():
    assert printable("größe 3 × 4") == "größe 3 × 4"
    assert printable("tab\there\x00", 50) == "tab\\there\\x00"
