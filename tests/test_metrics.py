import pytest

from asr.metrics import ErrorCounts, ErrorRateAccumulator, align, char_errors, format_alignment, word_errors


@pytest.mark.parametrize("ref, hyp, s, d, i, n", [
    ("the cat sat on the mat", "the cat sat on the mat", 0, 0, 0, 6),
    ("the cat sat on the mat", "the cat sit on mat", 1, 1, 0, 6),
    ("the cat sat", "the big cat sat down", 0, 0, 2, 3),
    ("a b c d", "x y", 2, 2, 0, 4),
    ("hello world", "", 0, 2, 0, 2),
    ("", "hello there", 0, 0, 2, 0),
    ("", "", 0, 0, 0, 0),
    ("one two three", "one too three four", 1, 0, 1, 3),
])
def test_word_counts_hand_checked(ref, hyp, s, d, i, n):
    c = word_errors(ref, hyp)
    assert (c.substitutions, c.deletions, c.insertions, c.reference_length) == (s, d, i, n)


def test_rates():
    assert word_errors("the cat sat on the mat", "the cat sit on mat").rate == pytest.approx(2 / 6)
    assert word_errors("hello world", "").rate == 1.0
    assert word_errors("", "").rate == 0.0
    assert word_errors("", "hello there").rate == 2.0  # an empty reference counts its insertions
    assert word_errors("a", "b c d").rate == 3.0


def test_char_counts():
    c = char_errors("kitten", "sitting")  # classic: 2 substitutions, 1 insertion
    assert (c.substitutions, c.deletions, c.insertions, c.reference_length) == (2, 0, 1, 6)
    assert char_errors("a  b", "a b").errors == 0  # white space runs are one space


def test_corpus_aggregates_counts_not_rates():
    acc = ErrorRateAccumulator()
    acc.add("a b c d e f g h i j", "a b c d e f g h i j", "long")  # 0 errors / 10
    acc.add("x", "y", "short")  # 1 error / 1
    assert acc.wer == pytest.approx(1 / 11)
    assert acc.words == ErrorCounts(1, 0, 0, 11)
    assert acc.summary()["utterances"] == 2


def test_alignment_marks_each_error():
    pairs = align("the cat sat on the mat".split(), "the cat sit on mat".split())
    ops = [p.op for p in pairs]
    assert ops.count("S") == 1 and ops.count("D") == 1 and ops.count("=") == 4
    ref_line, hyp_line, marks = format_alignment(pairs)
    assert "SAT" in ref_line and "SIT" in hyp_line and "***" in hyp_line
    assert marks.split() == ["S", "D"]
    assert ref_line.index("SAT") == hyp_line.index("SIT") == marks.index("S")


def test_report_lists_worst_utterance_first():
    acc = ErrorRateAccumulator()
    acc.add("good morning", "good morning", "u1")
    acc.add("see you later", "see you", "u2")
    report = acc.report()
    assert report.splitlines()[0].startswith("WER 20.00% (1 errors / 5 words: 0 sub, 1 del, 0 ins)")
    assert report.index("u2") < report.index("u1")
    assert "u1" not in acc.report(errors_only=True)
