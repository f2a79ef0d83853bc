"""argparse helpers: sizes that must be >= 1, and -o that must not name an input."""
import argparse
import os

import pytest

from edgecv.cli import UserError
from edgecv.cli.args import positive_int, refuse_output_over_input, same_file


@pytest.mark.parametrize("text", ["0", "-1", "-8", "two", "1.5", ""])
def test_positive_int_refuses(text):
    with pytest.raises(argparse.ArgumentTypeError):
        positive_int(text)


def test_positive_int_accepts():
    assert positive_int("1") == 1 and positive_int("16") == 16


def test_same_file_through_symlinks_and_hard_links(tmp_path):
    a = tmp_path / "a.pt"
    a.write_bytes(b"x")
    (tmp_path / "link.pt").symlink_to(a)
    os.link(a, tmp_path / "hard.pt")
    (tmp_path / "sub").mkdir()
    assert same_file(a, tmp_path / "link.pt") and same_file(a, tmp_path / "hard.pt")
    assert same_file(a, tmp_path / "sub" / ".." / "a.pt")
    assert not same_file(a, tmp_path / "b.pt")  # b does not exist yet: a new output
    with pytest.raises(UserError, match="-o must differ from the input file: .*link.pt is the --teacher-checkpoint"):
        refuse_output_over_input(tmp_path / "link.pt", checkpoint=None, teacher_checkpoint=a)
    refuse_output_over_input(tmp_path / "b.pt", checkpoint=a)
