from __future__ import annotations

from daloy_edge.verify import Status
from tests.verify.conftest import gate, messages

NAME = "invisible-unicode"
RLO = "\u202e"
ZWSP = "\u200b"


def test_flags_a_bidi_override_in_a_comment(layout):
    code = f"access = 'user'  # {RLO} check if admin {RLO}\n"
    result = gate(layout({"app/auth.py": code}), NAME)
    assert (
        messages(result)[0] == "app/auth.py:1:20 invisible character U+202E RIGHT-TO-LEFT OVERRIDE"
    )
    assert len(result.findings) == 2


def test_flags_zero_width_space_in_any_text_file(layout):
    result = gate(layout({"docs/readme.md": f"run pip install re{ZWSP}quests\n"}), NAME)
    assert messages(result) == ["docs/readme.md:1:19 invisible character U+200B ZERO WIDTH SPACE"]


def test_flags_homoglyph_identifier(layout):
    code = "p\u0430ssword = 1\n"
    result = gate(layout({"app/x.py": code}), NAME)
    assert messages(result) == [
        "app/x.py:1:1 non-ASCII identifier 'p\u0430ssword' (possible homoglyph)"
    ]


def test_passes_escapes_leading_bom_and_accented_prose(layout):
    files = {
        "app/ok.py": "\ufeffMARK = '\\u202e'  # caf\u00e9\n",
        "docs/notes.md": "na\u00efve r\u00e9sum\u00e9\n",
    }
    result = gate(layout(files), NAME)
    assert result.status is Status.PASS
    assert result.detail == "2 text files"
