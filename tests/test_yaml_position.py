"""Where a YAML error is, 1-based, as both the config loader and the manifest reader say it."""

from __future__ import annotations

import pytest
import yaml

from kudev.yaml_position import error_position, mark_position, unreadable_character


def yaml_error(text: str) -> yaml.YAMLError:
    with pytest.raises(yaml.YAMLError) as caught:
        list(yaml.safe_load_all(text))
    return caught.value


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("a: 1\n  b: 2\n", (2, 4)),  # mapping values are not allowed here
        ("a:\n\tb: 1\n", (2, 1)),  # a tab cannot start a token
        ("a: 1\nb: 'open\n", (3, 1)),  # end of stream inside a quoted scalar
        ("a: !Ref x\n", (1, 4)),  # a tag SafeLoader cannot construct
    ],
)
def test_syntax_errors_are_placed_1_based(text: str, position: tuple[int, int]) -> None:
    assert error_position(yaml_error(text), text) == position


def test_unreadable_characters_are_placed_by_counting_the_text() -> None:
    text = "a: 1\nb: x\x07y\n"
    error = yaml_error(text)

    assert isinstance(error, yaml.reader.ReaderError)
    assert error_position(error, text) == (2, 5)
    assert unreadable_character(error) == "special characters are not allowed (U+0007)"


def test_a_marked_error_without_marks_is_at_the_start() -> None:
    assert error_position(yaml.MarkedYAMLError(problem="odd"), "") == (1, 1)


def test_an_error_without_a_position_has_none() -> None:
    assert error_position(yaml.YAMLError("odd"), "a: 1\n") is None


def test_marks_count_from_zero_positions_from_one() -> None:
    assert mark_position(yaml.Mark("f", 0, 2, 6, None, None)) == (3, 7)
