"""Tests for CSV save/load and the validation of uploaded CSV files."""

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toy_data import (
    MAX_CSV_BYTES,
    MAX_CSV_ROWS,
    CSVFormatError,
    load_csv,
    load_csv_with_labels,
    make_dataset,
    save_csv,
)
from toy_data.csv_io import MAX_CSV_ABS


def load_text(text):
    """Load CSV given as str (encoded to UTF-8 bytes)."""
    return load_csv(text.encode("utf-8"))


def error_for(source):
    """Return the CSVFormatError raised by load_csv(source)."""
    if isinstance(source, str):
        source = source.encode("utf-8")
    with pytest.raises(ValueError) as info:
        load_csv(source)
    assert isinstance(info.value, CSVFormatError)
    return info.value


GOOD = "x,y,label\n0.5,1.5,0\n-1,2e-3,1\n3,4,1\n"


# --------------------------------------------------------------------------
# Round trip and accepted variations
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["moons", "blobs", "spirals"])
def test_round_trip_is_exact(name, tmp_path):
    X, y = make_dataset(name, n_samples=500, seed=4)
    path = tmp_path / "data.csv"
    save_csv(path, X, y)
    X2, y2 = load_csv(path)
    assert X2.dtype == np.float32 and y2.dtype == np.int64
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(y2, y)
    assert path.read_text(encoding="utf-8").splitlines()[0] == "x,y,label"


def test_round_trip_extreme_floats():
    X = np.array(
        [[1e-45, -MAX_CSV_ABS], [0.1, -0.0], [123456.789, 1e-30], [np.pi, MAX_CSV_ABS]], dtype=np.float32
    )
    y = np.array([0, 1, 0, 1])
    buffer = io.BytesIO()
    save_csv(buffer, X, y)
    X2, y2 = load_csv(buffer.getvalue())
    np.testing.assert_array_equal(X2, X)


def test_round_trip_with_buffers_and_label_names():
    X, y = make_dataset("blobs", n_samples=60, classes=3)
    names = ("cat", "dog, big", 'say "hi"')
    text_buffer = io.StringIO()
    save_csv(text_buffer, X, y, label_names=names)
    X2, y2, names2 = load_csv_with_labels(io.StringIO(text_buffer.getvalue()))
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(y2, y)
    assert names2 == names  # already in sorted order


def test_load_from_all_source_types(tmp_path):
    path = tmp_path / "good.csv"
    path.write_text(GOOD, encoding="utf-8")
    expected_X = np.array([[0.5, 1.5], [-1, 2e-3], [3, 4]], dtype=np.float32)
    for source in (str(path), path, GOOD.encode(), bytearray(GOOD.encode()),
                   io.BytesIO(GOOD.encode()), io.StringIO(GOOD)):
        X, y = load_csv(source)
        np.testing.assert_array_equal(X, expected_X)
        np.testing.assert_array_equal(y, [0, 1, 1])


def test_file_object_is_read_from_start():
    buffer = io.BytesIO(GOOD.encode())
    buffer.read()  # e.g. a Streamlit rerun that already consumed the upload
    X, _ = load_csv(buffer)
    assert X.shape == (3, 2)


def test_integer_labels_map_in_numeric_order():
    text = "x,y,label\n0,0,10\n1,1,7\n2,2,-1\n3,3,7\n4,4,9\n5,5,10.0\n"
    X, y, names = load_csv_with_labels(text.encode())
    assert names == ("-1", "7", "9", "10")
    np.testing.assert_array_equal(y, [3, 1, 0, 1, 2, 3])


def test_string_labels_map_in_sorted_order():
    text = "x,y,label\n0,0,dog\n1,1,cat\n2,2, dog \n3,3,bird\n"
    X, y, names = load_csv_with_labels(text.encode())
    assert names == ("bird", "cat", "dog")
    np.testing.assert_array_equal(y, [2, 1, 2, 0])


def test_mixed_labels_are_treated_as_text():
    _, y, names = load_csv_with_labels(b"x,y,label\n0,0,1\n1,1,a\n2,2,10\n")
    assert names == ("1", "10", "a")
    np.testing.assert_array_equal(y, [0, 2, 1])


def test_utf8_bom_is_accepted():
    X, y = load_csv(b"\xef\xbb\xbf" + GOOD.encode())
    assert X.shape == (3, 2)
    X, y = load_csv(io.StringIO("\ufeff" + GOOD))
    assert X.shape == (3, 2)


def test_header_case_whitespace_order_and_extra_columns():
    text = "id, Label ,  X,notes,Y \n1,a,0.5,hello,1\n2,b,2,,3\n"
    X, y, names = load_csv_with_labels(text.encode())
    np.testing.assert_array_equal(X, [[0.5, 1], [2, 3]])
    assert names == ("a", "b")


def test_crlf_blank_lines_quotes_and_trailing_commas():
    text = '\r\nx,y,label\r\n"1.5", 2 ,"a"\r\n\r\n,,\r\n3,4,b,,\r\n'
    X, y = load_text(text)
    np.testing.assert_array_equal(X, [[1.5, 2], [3, 4]])


def test_unicode_labels():
    _, _, names = load_csv_with_labels("x,y,label\n0,0,chat\n1,1,ネコ\n".encode("utf-8"))
    assert names == ("chat", "ネコ")


# --------------------------------------------------------------------------
# Rejected files: each case has a specific message
# --------------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"   \n\t\r\n  ", b"\xef\xbb\xbf", b"\xef\xbb\xbf \n"])
def test_empty_file(content):
    assert "file is empty" in str(error_for(content))


def test_blank_rows_only():
    assert "no header row" in str(error_for(b",,\n , ,\n"))


def test_header_only():
    err = error_for("x,y,label\n\n")
    assert "header (row 1) but no data rows" in str(err)


def test_not_utf8():
    err = error_for("x,y,label\n0,0,caf\xe9\n1,1,b\n".encode("latin-1"))
    assert "not valid UTF-8" in str(err)
    assert "byte 0xe9 on row 2" in str(err)
    assert "CSV UTF-8" in str(err)
    assert err.row == 2


def test_utf16():
    err = error_for(GOOD.encode("utf-16"))
    assert "UTF-16" in str(err)


def test_utf16_without_bom_has_nul_bytes():
    err = error_for(GOOD.encode("utf-16-le"))
    assert "NUL characters" in str(err)


def test_nul_bytes():
    err = error_for(b"x,y,label\n0,0,a\n1,1\x00,b\n")
    assert "NUL characters (first on row 3)" in str(err)
    err = error_for(io.StringIO("x,y,label\n0\x00,0,a\n"))
    assert "NUL characters (first on row 2)" in str(err)


def test_binary_garbage():
    rng = np.random.default_rng(0)
    garbage = rng.integers(0, 256, size=5000, dtype=np.uint8).tobytes()
    assert "binary data" in str(error_for(b"\x89PNG\r\n" + garbage))
    without_nul = garbage.replace(b"\x00", b"")
    assert "not valid UTF-8" in str(error_for(without_nul))


def test_xlsx_file():
    err = error_for(b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 50)
    assert "Excel workbook" in str(err)


def test_missing_columns():
    err = error_for("x,yy,class\n1,2,a\n")
    message = str(err)
    assert "Missing required column(s) 'y', 'label'" in message
    assert "Found columns: 'x', 'yy', 'class'" in message
    assert err.row == 1


def test_missing_header_row():
    err = error_for("1,2,0\n3,4,1\n")
    assert "Missing required column(s) 'x', 'y', 'label'" in str(err)
    assert "looks like data" in str(err)


@pytest.mark.parametrize("separator", [";", "\t"])
def test_semicolon_or_tab_separated(separator):
    text = GOOD.replace(",", separator)
    err = error_for(text)
    assert "expected comma-separated" in str(err)
    assert repr(separator) in str(err)


def test_duplicate_columns():
    err = error_for("x,y,label,X\n1,2,a,3\n")
    assert "Column 'x' appears 2 times in the header (row 1, columns A and D)" in str(err)
    assert err.column == "x"


def test_duplicate_ignored_columns_are_fine():
    X, _ = load_text("x,y,label,note,note\n1,2,a,,\n3,4,b,,\n")
    assert X.shape == (2, 2)


def test_row_with_too_few_fields():
    err = error_for("x,y,label\n0,0,a\n1,2\n")
    assert "Row 3 has only 2 field(s), so column(s) 'label' are missing" in str(err)
    assert err.row == 3 and err.column == "label"


def test_row_with_too_many_fields():
    err = error_for("x,y,label\n0,0,a\n1,5,2,b\n")
    assert "Row 3 has 4 fields but the header has 3 columns" in str(err)
    assert "decimal commas" in str(err)


@pytest.mark.parametrize(
    "cell, phrase",
    [
        ("abc", "'abc' is not a number"),
        ("1,5", None),  # quoted decimal comma
        ("1.2.3", "'1.2.3' is not a number"),
        ("a" * 100, "'" + "a" * 27 + "...' is not a number"),
        ("", "the cell is empty"),
        ("  ", "the cell is empty"),
        ("nan", "'nan' is NaN"),
        ("NaN", "'NaN' is NaN"),
        ("inf", "'inf' is infinite or too large"),
        ("-Infinity", "'-Infinity' is infinite or too large"),
        ("1e999", "'1e999' is infinite or too large"),
        ("4e38", "'4e38' is infinite or too large"),
        ("3.4e38", "'3.4e38' is too large; coordinates must lie within ±1,000,000. Rescale"),
        ("-3.4e38", "'-3.4e38' is too large"),
        ("1e30", "'1e30' is too large"),
        ("1000000.5", "'1000000.5' is too large"),
    ],
)
@pytest.mark.parametrize("column", ["x", "Y"])
def test_bad_numbers(cell, phrase, column):
    header = "x,Y,label" if column == "Y" else "x,y,label"
    good = "1.0"
    cells = {"x": good, "Y": good}
    cells[column] = f'"{cell}"'
    text = f"{header}\n0,0,a\n1,1,b\n{cells['x']},{cells['Y']},a\n"
    err = error_for(text)
    assert f"Row 4, column '{column}'" in str(err)
    if phrase:
        assert phrase in str(err)
    assert err.row == 4 and err.column == column


def test_largest_float32_is_refused_with_a_rescale_hint():
    err = error_for("x,y,label\n3.4028235e38,-3.4028235e38,a\n0,0,b\n")
    assert "too large" in str(err) and "Rescale" in str(err) and err.row == 2


def test_empty_label():
    err = error_for("x,y,label\n0,0,a\n1,1,b\n2,2,  \n")
    assert "Row 4, column 'label': the label is empty" in str(err)
    assert err.row == 4


def test_only_one_class():
    err = error_for("x,y,label\n0,0,a\n1,1,a\n")
    assert "Only one class ('a') found" in str(err)
    assert "At least 2 different labels" in str(err)


def test_one_class_after_numeric_normalisation():
    assert "Only one class ('1')" in str(error_for("x,y,label\n0,0,1\n1,1,1.0\n2,2,01\n"))


def test_too_many_classes():
    rows = "".join(f"{i},{i},c{i}\n" for i in range(25))
    err = error_for("x,y,label\n" + rows)
    assert "has 25 different labels" in str(err)
    assert "at most 20 classes" in str(err)
    assert "first appears on row 22" in str(err)
    assert err.row == 22


def test_twenty_classes_are_accepted():
    rows = "".join(f"{i},{i},{i}\n" for i in range(20))
    _, y = load_text("x,y,label\n" + rows)
    assert len(np.unique(y)) == 20


def test_too_many_rows_stops_early():
    lines = ["x,y,label"] + [f"{i % 7},{i % 5},{i % 2}" for i in range(MAX_CSV_ROWS + 1)]
    err = error_for("\n".join(lines))
    assert "more than 50,000 data rows" in str(err)
    assert f"stopped reading at row {MAX_CSV_ROWS + 2}" in str(err)


def test_max_rows_is_accepted():
    lines = ["x,y,label"] + [f"{i % 7},{i % 5},{i % 2}" for i in range(MAX_CSV_ROWS)]
    X, y = load_text("\n".join(lines))
    assert X.shape == (MAX_CSV_ROWS, 2)


def test_too_large_file(tmp_path):
    big = b"x,y,label\n" + b"0" * (MAX_CSV_BYTES + 10)
    assert "more than the 20 MB limit" in str(error_for(big))
    assert "more than the 20 MB limit" in str(error_for(io.BytesIO(big)))
    path = tmp_path / "big.csv"
    path.write_bytes(big)
    assert "MB, more than the 20 MB limit" in str(error_for(path))


def test_unbalanced_quote_and_huge_cell():
    err = error_for('x,y,label\n0,0,a\n1,1,"b\n' + "z" * 200_000)
    assert "Row 3" in str(err)


def test_missing_file(tmp_path):
    err = error_for(tmp_path / "nope.csv")
    assert "Could not read the file" in str(err)
    assert "No such file" in str(err)
    with pytest.raises(ValueError, match="pass text.encode"):
        load_csv(GOOD)


def test_unsupported_source_type():
    with pytest.raises(TypeError, match="file path"):
        load_csv(123)


# --------------------------------------------------------------------------
# save_csv validation
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "X, y, message",
    [
        (np.zeros((3, 3)), [0, 1, 0], r"X must have shape \[n, 2\], got \(3, 3\)"),
        (np.zeros(6), [0, 1, 0], r"X must have shape \[n, 2\]"),
        (np.zeros((3, 2)), [0, 1], r"y must have shape \[3\] to match X, got \(2,\)"),
        (np.zeros((3, 2)), [[0], [1], [0]], r"y must have shape \[3\]"),
        (np.array([[0, np.nan], [1, 1]]), [0, 1], "finite"),
        (np.array([[0, 1e39], [1, 1]]), [0, 1], "float32 range"),
        (np.array([[0, 3.4e38], [1, 1]]), [0, 1], "within ±1,000,000"),
        (np.array([[0, -2e6], [1, 1]]), [0, 1], "within ±1,000,000"),
        (np.array([["a", "b"], ["c", "d"]]), [0, 1], "X must be numeric"),
        (np.zeros((2, 2)), ["a", " "], r"y\[1\] is an empty label"),
        (np.zeros((2, 2)), [0.5, 1.0], "whole numbers"),
    ],
)
def test_save_csv_validation(X, y, message):
    with pytest.raises(ValueError, match=message):
        save_csv(io.StringIO(), X, y)


def test_save_csv_label_names_validation():
    with pytest.raises(ValueError, match="integer codes 0..1"):
        save_csv(io.StringIO(), np.zeros((2, 2)), [0, 2], label_names=["a", "b"])


def test_save_csv_format():
    buffer = io.StringIO()
    save_csv(buffer, np.array([[0.1, 2.0], [-1.5, 1e-7]], dtype=np.float32), np.array([3, 7]))
    assert buffer.getvalue() == "x,y,label\n0.1,2.0,3\n-1.5,1e-07,7\n"


# --------------------------------------------------------------------------
# Property-based: never anything but a valid result or a ValueError
# --------------------------------------------------------------------------


def check_result_or_value_error(source):
    try:
        X, y, names = load_csv_with_labels(source)
    except ValueError as err:
        assert isinstance(err, CSVFormatError)
        assert str(err)
        return
    assert X.dtype == np.float32 and X.ndim == 2 and X.shape[1] == 2
    assert np.isfinite(X).all()
    assert y.dtype == np.int64 and y.shape == (X.shape[0],)
    k = len(names)
    assert 2 <= k <= 20
    assert np.array_equal(np.unique(y), np.arange(k))


FUZZ = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(st.binary(max_size=2000))
def test_fuzz_arbitrary_bytes(data):
    check_result_or_value_error(data)


@FUZZ
@given(st.text(max_size=2000))
@pytest.mark.slow
def test_fuzz_arbitrary_text(text):
    check_result_or_value_error(io.StringIO(text))
    check_result_or_value_error(text.encode("utf-8", errors="surrogatepass"))


JUNK = ["abc", "nan", "inf", "-inf", "", " ", "1e999", '"', '""', ",", "\n", "\x00", "0x10", "1_0", "ü"]
CSV_CHARS = st.sampled_from(list(',;\n\r"\t x0123456789.-e\x00\ufeffé') + ["\udc80"])


@st.composite
def valid_csv_text(draw):
    n = draw(st.integers(min_value=1, max_value=12))
    header = draw(st.permutations(["x", "y", "label"] + draw(st.sampled_from([[], ["extra"]]))))
    labels = draw(st.sampled_from([["0", "1"], ["a", "b", "c"], ["3", "7"], ["only"]]))
    numbers = st.floats(min_value=-MAX_CSV_ABS, max_value=MAX_CSV_ABS, width=32).map(repr)
    rows = []
    for _ in range(n):
        cells = {"x": draw(numbers), "y": draw(numbers), "label": draw(st.sampled_from(labels)),
                 "extra": "e"}
        rows.append(",".join(cells[column] for column in header))
    return "\n".join([",".join(header)] + rows) + "\n"


@st.composite
def mutated_csv(draw):
    text = draw(valid_csv_text())
    lines = [line.split(",") for line in text.split("\n")]
    for _ in range(draw(st.integers(0, 3))):  # replace whole cells with junk
        row = draw(st.integers(0, len(lines) - 1))
        if lines[row]:
            col = draw(st.integers(0, len(lines[row]) - 1))
            lines[row][col] = draw(st.sampled_from(JUNK))
    text = "\n".join(",".join(cells) for cells in lines)
    for _ in range(draw(st.integers(0, 4))):  # character-level edits
        pos = draw(st.integers(0, len(text)))
        if draw(st.booleans()):
            text = text[:pos] + draw(CSV_CHARS) + text[pos:]
        else:
            text = text[:pos] + text[pos + draw(st.integers(1, 5)):]
    return text


@FUZZ
@given(mutated_csv())
@pytest.mark.slow
def test_fuzz_mutated_csv(text):
    check_result_or_value_error(text.encode("utf-8", errors="surrogateescape"))
    check_result_or_value_error(io.StringIO(text))


@FUZZ
@given(valid_csv_text())
@pytest.mark.slow
def test_valid_generated_csv_loads_or_has_one_class(text):
    try:
        X, y = load_text(text)
    except ValueError as err:
        assert "Only one class" in str(err)
        return
    assert X.shape[0] == text.count("\n") - 1


def test_extreme_coordinates_are_refused_at_the_boundary_with_a_message():
    """±3.4e38 is a float32 but no usable coordinate (issue 14: the app showed a RuntimeError traceback)."""
    for value in ("3.4e38", "-3.4e38", "1e30", "-1e7"):
        err = error_for(f"x,y,label\n0,0,a\n1,1,b\n{value},2,a\n")
        assert err.row == 4 and err.column == "x" and "Rescale the column" in str(err)
    X, y = load_text(f"x,y,label\n{-MAX_CSV_ABS},0,a\n{MAX_CSV_ABS},1e-30,b\n")
    assert X.max() == MAX_CSV_ABS and X.min() == -MAX_CSV_ABS
