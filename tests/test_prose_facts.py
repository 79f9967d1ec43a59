"""Reading what a report sentence claims, so that tests check facts rather than wording: the
numbers a sentence prints (each with the precision it was printed at) and whether a word that
states a direction ("grows", "falls", "faster", "better") agrees with the numbers it is about.
test_prose, test_tables and test_sections use these helpers; the tests here show that the checker
accepts true sentences and rejects false ones, among them the one the PDF printed (test_prose
shows it failing the old sampling_summary)."""

import re

import pytest

#: A printed number: "130,874", "0.85", "55%", "5.0e‑14" (fmt's non-breaking hyphen), "1e-08",
#: "−17" (a minus sign). Not a digit glued to a word or a hyphen ("m256", "B32", "distinct-2").
NUM = r"(?<![\w.\-\u2011])\u2212?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:e[\-\u2011+]?\d+)?%?"
#: Words that say the second number of "<word> from X to Y" is larger, or smaller.
UP = {"grows", "rises", "increases", "climbs"}
DOWN = {"falls", "shrinks", "drops", "decreases", "declines"}
#: Words after "is D <unit>" that claim a difference, which must then be positive.
BY = "better|worse|higher|lower|faster|slower|larger|smaller"


def parse(token: str) -> tuple[float, float]:
    """(value, half a unit of the last printed digit) of one printed number; a percentage in
    percent ("55%" -> (55, 0.5))."""
    t = token.replace(",", "").replace("\u2212", "-").replace("\u2011", "-").rstrip("%")
    mantissa, _, exponent = t.partition("e")
    decimals = len(mantissa.partition(".")[2])
    return float(t), 0.5 * 10.0 ** (int(exponent or 0) - decimals)


def numbers(text: str) -> list[tuple[float, float]]:
    """Every number printed in ``text``, in order, as :func:`parse` reads it."""
    return [parse(m.group()) for m in re.finditer(NUM, text)]


def matches(num: tuple[float, float], x: float) -> bool:
    """Whether ``x`` prints as ``num``: within half a unit of its last digit."""
    value, half = num
    return abs(value - x) <= half * (1 + 1e-9) + 1e-12


def count(text: str, x: float) -> int:
    """How many of the numbers printed in ``text`` are ``x`` at their printed precision."""
    return sum(matches(n, x) for n in numbers(text))


def assert_printed(text: str, *values: float) -> None:
    """Every one of ``values`` is printed in ``text`` (at whatever precision it was printed)."""
    missing = [x for x in values if not count(text, x)]
    assert not missing, f"{missing} not printed in: {text!r} (printed: {numbers(text)})"


def assert_numbers_are(text: str, values) -> None:
    """``text`` prints exactly ``values`` (in any order), no more and no fewer."""
    left = numbers(text)
    for x in values:
        hit = next((n for n in left if matches(n, x)), None)
        assert hit is not None, f"{x} not printed in: {text!r} (printed: {numbers(text)})"
        left.remove(hit)
    assert not left, f"{[v for v, _ in left]} printed but not expected in: {text!r}"


def direction_errors(text: str) -> list[str]:
    """The claims in ``text`` that its own numbers contradict, compared as printed:
    "<up word> from X to Y" needs Y > X and "<down word> from X to Y" Y < X (a tie is "stays at");
    "R times faster/slower" needs R > 1 and, when "(A against B" follows, R = A/B (faster) or B/A
    (slower); "R times as many" needs R != 1; "X or better (tolerance T)" needs X <= T; "is D <unit>
    (P%) better" needs D > 0."""
    errors = []
    for m in re.finditer(rf"(\w+) from ({NUM}) to ({NUM})", text):
        word, (x, _), (y, _) = m.group(1), parse(m.group(2)), parse(m.group(3))
        if (word in UP and not y > x) or (word in DOWN and not y < x):
            errors.append(m.group())
    for m in re.finditer(rf"({NUM}) times (faster|slower|as many)([^.;]*)", text):
        (r, half), word = parse(m.group(1)), m.group(2)
        if r == 1 or (word != "as many" and r < 1):
            errors.append(m.group(1) + f" times {word}")
        speeds = re.search(rf"\(({NUM}) against ({NUM})", m.group(3))
        if speeds and word != "as many":
            a, b = parse(speeds.group(1))[0], parse(speeds.group(2))[0]
            if not matches((r, half), a / b if word == "faster" else b / a):
                errors.append(f"{m.group(1)} times {word} with speeds {a:g} and {b:g}")
    for m in re.finditer(rf"({NUM}) or better \(tolerance ({NUM})\)", text):
        if parse(m.group(1))[0] > parse(m.group(2))[0]:
            errors.append(m.group())
    for m in re.finditer(rf"is ({NUM}) \S+ (?:\({NUM}\) )?(?:{BY})\b", text):
        if parse(m.group(1))[0] <= 0:
            errors.append(m.group())
    return errors


def assert_directions(text: str) -> None:
    errors = direction_errors(text)
    assert not errors, f"direction words contradict the numbers: {errors} in {text!r}"


# ------------------------------------------------------------------ the checker itself

def test_numbers_are_read_at_their_printed_precision():
    text = "update 130,874, loss 1.4787, 55% real, 5.0e\u201114 (tolerance 1e-08), unit \u221217, m256"
    assert [v for v, _ in numbers(text)] == [130874, 1.4787, 55, 5.0e-14, 1e-8, -17]
    assert count(text, 1.47874) == 1 and count(text, 1.47886) == 0  # 1.4789 is another number
    assert count(text, 0.554 * 100) == 1 and count(text, 56) == 0
    assert count(text, 256) == 0  # a digit glued to a name is not a number
    assert_numbers_are("from 19 to 18", [18, 19])
    for wrong in ([18], [18, 19, 19], [18, 20]):  # one missing, one too many, a wrong one
        with pytest.raises(AssertionError):
            assert_numbers_are("from 19 to 18", wrong)


def test_the_checker_rejects_the_sentence_the_pdf_printed():
    pdf = ("distinct-2 falls from 0.90 to 0.85 and the longest repeat grows from 19 to 18 "
           "characters")
    assert direction_errors(pdf) == ["grows from 19 to 18"]
    assert direction_errors("distinct-2 falls from 0.85 to 0.90") == ["falls from 0.85 to 0.90"]
    assert direction_errors("the repeat grows from 19 to 19 characters")  # a tie is no growth
    assert direction_errors("the repeat grows from 18 to 19 and falls from 0.9 to 0.8") == []
    assert direction_errors("processed them 0.8 times faster than the loop (200 against 250")
    assert direction_errors("processed them 1.0 times faster")  # as printed: no speed-up
    assert direction_errors("processed them 9.0 times faster (224,000 against 20,000 characters/s)")
    assert direction_errors("processed them 9.0 times faster (224,000 against 25,000 characters/s)") == []
    assert direction_errors("B = 32 was 2.0 times slower (100 against 200 characters/s)") == []
    assert direction_errors("the GRU is 0.000 bits/char (0.0%) better")
    assert direction_errors("the GRU is 0.100 bits/char (5.1%) better") == []
    assert direction_errors("agrees to 2.0e\u201109 or better (tolerance 1e\u201110)")
    assert direction_errors("come from 1.0 times as many characters")
