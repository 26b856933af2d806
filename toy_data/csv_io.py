"""Read and write 2-D labelled point sets as CSV files (``x,y,label``).

The loader is meant for user uploads, so it never trusts its input: every
problem with the file raises :class:`CSVFormatError` (a ``ValueError``) whose
message says what is wrong, where (spreadsheet row number, counting the header
as row 1, and the column name) and what to do about it. Nothing half-loaded is
ever returned.

File format
-----------
* UTF-8 text (a UTF-8 byte order mark is fine), comma-separated.
* A header row naming the columns ``x``, ``y`` and ``label`` in any order
  (case-insensitive, surrounding spaces ignored); other columns are ignored.
* ``x`` and ``y`` are finite decimal numbers (dot as decimal separator) within
  ±1,000,000 (``MAX_CSV_ABS``): larger coordinates are refused with a message
  that says to rescale the column, because training (which standardises the
  inputs) and the decision-boundary grid overflow float32 long before ±3.4e38.
* ``label`` is a class name: integers (``0``, ``7``, ``-1``) or text (``cat``).
  Labels are mapped to ``0..k-1`` in sorted order (numeric order when all
  labels are integers), with 2 to 20 classes.
* At most 50,000 data rows and 20 MB. Blank rows are skipped.
"""

from __future__ import annotations

import csv
import io
import math
import os
from typing import Iterator

import numpy as np

__all__ = [
    "CSVFormatError",
    "MAX_CSV_ABS",
    "MAX_CSV_BYTES",
    "MAX_CSV_CLASSES",
    "MAX_CSV_ROWS",
    "load_csv",
    "load_csv_with_labels",
    "save_csv",
]

#: Largest accepted file, in bytes (checked before parsing).
MAX_CSV_BYTES = 20 * 1024 * 1024
#: Largest accepted number of data rows (the header is not counted).
MAX_CSV_ROWS = 50_000
#: Largest accepted number of distinct labels.
MAX_CSV_CLASSES = 20
#: Largest accepted coordinate magnitude (|x| and |y|); larger values are refused, asking to rescale.
MAX_CSV_ABS = 1e6

REQUIRED_COLUMNS = ("x", "y", "label")
_SHOW_CHARS = 30
# Smallest magnitude that rounds to infinity when stored as float32.
_FLOAT32_OVERFLOW = (2.0 - 2.0**-24) * 2.0**127


class CSVFormatError(ValueError):
    """A CSV upload could not be used.

    Attributes
    ----------
    row : int or None
        1-based row number as shown in a spreadsheet (header = row 1), if the
        problem is tied to one row.
    column : str or None
        Column name as written in the header, if the problem is tied to one column.
    """

    def __init__(self, message: str, row: int | None = None, column: str | None = None):
        super().__init__(message)
        self.row = row
        self.column = column


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------


def _show(value: str) -> str:
    """Quote a user value for a message, truncated to about 30 characters."""
    if len(value) > _SHOW_CHARS:
        value = value[: _SHOW_CHARS - 3] + "..."
    return repr(value)


def _column_letter(index: int) -> str:
    """Spreadsheet column name for a 0-based index: 0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _is_blank(fields: list[str]) -> bool:
    return all(not field.strip() for field in fields)


def _line_of(data, position: int) -> int:
    """1-based line number of a character/byte offset."""
    newline = b"\n" if isinstance(data, bytes) else "\n"
    return data.count(newline, 0, position) + 1


# --------------------------------------------------------------------------
# Getting text out of a path, bytes or file-like object
# --------------------------------------------------------------------------


def _too_large(size_note: str) -> CSVFormatError:
    limit_mb = MAX_CSV_BYTES // (1024 * 1024)
    return CSVFormatError(
        f"The file is {size_note}, more than the {limit_mb} MB limit. "
        f"Upload a smaller file (at most {MAX_CSV_ROWS:,} rows)."
    )


def _nul_error(row: int) -> CSVFormatError:
    return CSVFormatError(
        f"The file contains NUL characters (first on row {row}), so it is binary data or "
        "UTF-16 text, not a UTF-8 CSV file. "
        "Export it from your spreadsheet as 'CSV UTF-8 (comma delimited)'.",
        row=row,
    )


def _check_text(text: str) -> str:
    """Reject NUL characters and empty content; drop a leading byte order mark."""
    text = text[1:] if text.startswith("\ufeff") else text
    nul = text.find("\x00")
    if nul >= 0:
        raise _nul_error(_line_of(text, nul))
    if not text.strip():
        raise CSVFormatError(
            "The file is empty. Upload a CSV file with a header row 'x,y,label' "
            "followed by one row per point."
        )
    return text


def _decode(data: bytes) -> str:
    """Decode UTF-8 (optionally with BOM) bytes, with a helpful error otherwise."""
    if len(data) > MAX_CSV_BYTES:
        raise _too_large("larger than that")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise CSVFormatError(
            "The file is UTF-16 encoded; only UTF-8 is supported. "
            "Save it as 'CSV UTF-8 (comma delimited)' and upload it again."
        )
    if data.startswith(b"PK\x03\x04"):
        raise CSVFormatError(
            "This looks like an Excel workbook (.xlsx) or a ZIP archive, not a CSV file. "
            "In your spreadsheet use 'Save as' / 'Download as' CSV and upload that file."
        )
    nul = data.find(b"\x00")
    if nul >= 0:
        # Checked before decoding: ASCII text saved as UTF-16 is valid UTF-8 with NULs.
        raise _nul_error(_line_of(data, nul))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        row = _line_of(data, err.start)
        raise CSVFormatError(
            f"The file is not valid UTF-8 text: byte 0x{data[err.start]:02x} on row {row} "
            "cannot be decoded (is it binary, or saved in another encoding such as "
            "Windows-1252/Latin-1?). Save it as 'CSV UTF-8' and upload it again.",
            row=row,
        ) from None
    return _check_text(text)


def _read_path(path) -> str:
    try:
        size = os.path.getsize(path)
        if size > MAX_CSV_BYTES:
            raise _too_large(f"{size / (1024 * 1024):.1f} MB")
        with open(path, "rb") as handle:
            data = handle.read(MAX_CSV_BYTES + 1)
    except OSError as err:
        hint = ""
        if isinstance(path, str) and ("\n" in path or "," in path):
            hint = " (To load CSV text from a string, pass text.encode() or io.StringIO(text).)"
        reason = err.strerror or str(err)
        raise CSVFormatError(f"Could not read the file {str(path)!r}: {reason}.{hint}") from None
    return _decode(data)


def _read_file_object(source) -> str:
    try:
        if getattr(source, "seekable", lambda: False)():
            source.seek(0)  # e.g. a Streamlit UploadedFile that was read before
        data = source.read(MAX_CSV_BYTES + 1)
    except UnicodeDecodeError:
        raise CSVFormatError(
            "The file is not valid UTF-8 text. Save it as 'CSV UTF-8' and upload it again."
        ) from None
    except OSError as err:
        raise CSVFormatError(f"Could not read the uploaded file: {err}.") from None
    if isinstance(data, str):
        if len(data) > MAX_CSV_BYTES:
            raise _too_large("larger than that")
        return _check_text(data)
    if isinstance(data, (bytes, bytearray, memoryview)):
        return _decode(bytes(data))
    raise TypeError(f"source.read() returned {type(data).__name__}; expected bytes or str.")


def _read_text(source) -> str:
    """Return the full decoded text of ``source`` (path, bytes or file object)."""
    if isinstance(source, (str, os.PathLike)):
        return _read_path(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _decode(bytes(source))
    if hasattr(source, "read"):
        return _read_file_object(source)
    raise TypeError(
        "load_csv expects a file path (str or Path), bytes, or a file-like object, "
        f"got {type(source).__name__}."
    )


# --------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(row_number, fields)`` per CSV record; blank lines count as rows."""
    reader = csv.reader(io.StringIO(text, newline=""))
    row = 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise CSVFormatError(
                f"Row {row + 1} is not valid CSV ({err}). Check for unbalanced double "
                "quotes or extremely long cells.",
                row=row + 1,
            ) from None
        row += 1
        yield row, fields


def _header_problem(row: int, fields: list[str], missing: list[str]) -> CSVFormatError:
    found = ", ".join(_show(field.strip()) for field in fields[:10])
    if len(fields) > 10:
        found += f", ... ({len(fields)} columns)"
    message = (
        f"Missing required column(s) {', '.join(repr(m) for m in missing)} in the header "
        f"(row {row}). Found columns: {found}. "
        "The first row must name the columns x, y and label (any order, case-insensitive; "
        "extra columns are ignored)."
    )
    if len(fields) == 1 and any(sep in fields[0] for sep in ";\t|"):
        sep = next(sep for sep in ";\t|" if sep in fields[0])
        message += (
            f" The file seems to use {sep!r} as separator; expected comma-separated values. "
            "Export it again with ',' as the separator."
        )
    elif _looks_numeric(fields):
        message += " The first row looks like data: add the header line 'x,y,label' above it."
    return CSVFormatError(message, row=row)


def _looks_numeric(fields: list[str]) -> bool:
    try:
        for field in fields:
            float(field)
    except ValueError:
        return False
    return True


def _parse_header(row: int, fields: list[str]) -> dict[str, int]:
    """Map each required column to its 0-based index in the header row."""
    names = [field.strip().lstrip("\ufeff").strip().lower() for field in fields]
    for column in REQUIRED_COLUMNS:
        where = [index for index, name in enumerate(names) if name == column]
        if len(where) > 1:
            letters = " and ".join(_column_letter(index) for index in where)
            raise CSVFormatError(
                f"Column {column!r} appears {len(where)} times in the header (row {row}, "
                f"columns {letters}). Rename or delete the extra columns so that x, y and "
                "label each appear once.",
                row=row,
                column=column,
            )
    missing = [column for column in REQUIRED_COLUMNS if column not in names]
    if missing:
        raise _header_problem(row, fields, missing)
    return {column: names.index(column) for column in REQUIRED_COLUMNS}


def _parse_number(cell: str, row: int, column: str) -> float:
    text = cell.strip()
    if not text:
        raise CSVFormatError(
            f"Row {row}, column {column!r}: the cell is empty. Enter a number or delete the row.",
            row=row,
            column=column,
        )
    try:
        value = float(text)
    except ValueError:
        raise CSVFormatError(
            f"Row {row}, column {column!r}: {_show(text)} is not a number. Use plain numbers "
            "with a dot as decimal separator, e.g. 1.25 or -3e-2.",
            row=row,
            column=column,
        ) from None
    if math.isnan(value):
        problem = "is NaN (not a number)"
    elif math.isinf(value) or abs(value) >= _FLOAT32_OVERFLOW:
        problem = "is infinite or too large (the limit is about ±3.4e38)"
    elif abs(value) > MAX_CSV_ABS:
        raise CSVFormatError(
            f"Row {row}, column {column!r}: {_show(text)} is too large; coordinates must lie "
            f"within ±{MAX_CSV_ABS:,.0f}. Rescale the column (e.g. divide it by 1000, or "
            "standardise it) and upload the file again.",
            row=row,
            column=column,
        )
    else:
        return value
    raise CSVFormatError(
        f"Row {row}, column {column!r}: {_show(text)} {problem}. "
        "Replace it with a finite number or delete the row.",
        row=row,
        column=column,
    )


def _parse_rows(
    records: Iterator[tuple[int, list[str]]],
    columns: dict[str, int],
    header: list[str],
) -> tuple[list[float], list[float], list[str], list[int]]:
    """Read data rows into x values, y values, label strings and row numbers."""
    names = {column: header[index].strip() for column, index in columns.items()}
    needed = max(columns.values()) + 1
    xs: list[float] = []
    ys: list[float] = []
    labels: list[str] = []
    rows: list[int] = []
    for row, fields in records:
        if _is_blank(fields):
            continue
        if len(rows) == MAX_CSV_ROWS:
            raise CSVFormatError(
                f"The file has more than {MAX_CSV_ROWS:,} data rows (stopped reading at row "
                f"{row}). Use a sample of at most {MAX_CSV_ROWS:,} points.",
                row=row,
            )
        if len(fields) < needed:
            missing = [names[c] for c, index in columns.items() if index >= len(fields)]
            raise CSVFormatError(
                f"Row {row} has only {len(fields)} field(s), so column(s) "
                f"{', '.join(repr(m) for m in missing)} are missing. Each row needs an x, y and "
                "label value separated by commas.",
                row=row,
                column=missing[0],
            )
        if len(fields) > len(header) and not _is_blank(fields[len(header) :]):
            raise CSVFormatError(
                f"Row {row} has {len(fields)} fields but the header has {len(header)} columns. "
                "Check for extra commas, e.g. decimal commas (write 1.5, not 1,5), or put "
                "double quotes around text that contains commas.",
                row=row,
            )
        xs.append(_parse_number(fields[columns["x"]], row, names["x"]))
        ys.append(_parse_number(fields[columns["y"]], row, names["y"]))
        label = fields[columns["label"]].strip()
        if not label:
            raise CSVFormatError(
                f"Row {row}, column {names['label']!r}: the label is empty. Every point needs "
                "a class label; fill it in or delete the row.",
                row=row,
                column=names["label"],
            )
        labels.append(label)
        rows.append(row)
    return xs, ys, labels, rows


def _as_int(label: str) -> int | None:
    """Integer value of a label such as '3', '-1' or '2.0'; None for other text."""
    try:
        return int(label)
    except ValueError:
        pass
    try:
        value = float(label)
    except ValueError:
        return None
    return int(value) if math.isfinite(value) and value.is_integer() else None


def _row_of_extra_class(first_row: dict[str, int], keys: dict) -> int:
    """Row where the (MAX_CSV_CLASSES + 1)-th distinct class first appears."""
    seen = set()
    for label, row in first_row.items():  # insertion order = order of appearance
        seen.add(keys[label])
        if len(seen) > MAX_CSV_CLASSES:
            return row
    raise AssertionError("called with too few classes")


def _encode_labels(
    labels: list[str], rows: list[int], column: str
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Map label strings to 0..k-1 (numeric order if all are integers, else text order)."""
    first_row: dict[str, int] = {}
    for label, row in zip(labels, rows):
        first_row.setdefault(label, row)
    as_int = {label: _as_int(label) for label in first_row}
    if all(value is not None for value in as_int.values()):
        keys = as_int
        ordered = sorted(set(as_int.values()))
        names = tuple(str(value) for value in ordered)
    else:
        keys = {label: label for label in first_row}
        ordered = sorted(first_row)
        names = tuple(ordered)

    if len(ordered) < 2:
        raise CSVFormatError(
            f"Only one class ({_show(names[0])}) found in column {column!r}. "
            "At least 2 different labels are needed to train a classifier.",
            column=column,
        )
    if len(ordered) > MAX_CSV_CLASSES:
        row = _row_of_extra_class(first_row, keys)
        raise CSVFormatError(
            f"Column {column!r} has {len(ordered)} different labels (the "
            f"{MAX_CSV_CLASSES + 1}st first appears on row {row}); at most {MAX_CSV_CLASSES} "
            "classes are supported. Is this column a measurement rather than a class name?",
            row=row,
            column=column,
        )
    code = {key: index for index, key in enumerate(ordered)}
    y = np.fromiter((code[keys[label]] for label in labels), dtype=np.int64, count=len(labels))
    return y, names


def load_csv_with_labels(source) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Load and validate an ``x,y,label`` CSV file.

    Parameters
    ----------
    source : str, os.PathLike, bytes or file-like
        A filesystem path, the raw file content as bytes, or an object with a
        ``read()`` method returning bytes or str (e.g. ``io.BytesIO``,
        ``io.StringIO``, a Streamlit ``UploadedFile``). Seekable objects are
        read from the start.

    Returns
    -------
    X : np.ndarray of float32, shape [n, 2]
        Finite ``x`` and ``y`` coordinates, in file order.
    y : np.ndarray of int64, shape [n]
        Class codes 0..k-1 with 2 <= k <= 20.
    label_names : tuple of str, length k
        ``label_names[code]`` is the original label. Integer labels are sorted
        numerically and written canonically (``'07'`` -> ``'7'``, ``'2.0'`` ->
        ``'2'``); text labels are sorted as strings.

    Raises
    ------
    CSVFormatError (a ValueError)
        For any problem with the file content; see the module docstring.
    TypeError
        If ``source`` is not a path, bytes or file-like object.
    """
    text = _read_text(source)
    records = _records(text)
    for header_row, header in records:
        if not _is_blank(header):
            break
    else:
        raise CSVFormatError(
            "The file has no header row. The first row must be 'x,y,label', followed by "
            "one row per point."
        )
    columns = _parse_header(header_row, header)
    xs, ys, labels, rows = _parse_rows(records, columns, header)
    if not rows:
        raise CSVFormatError(
            f"The file has a header (row {header_row}) but no data rows. Add one row per "
            "point below the header, with at least two different labels.",
            row=header_row,
        )
    y, names = _encode_labels(labels, rows, header[columns["label"]].strip())
    X = np.empty((len(rows), 2), dtype=np.float32)
    X[:, 0] = xs
    X[:, 1] = ys
    return X, y, names


def load_csv(source) -> tuple[np.ndarray, np.ndarray]:
    """Load an ``x,y,label`` CSV file as ``(X float32 [n, 2], y int64 [n])``.

    Same as :func:`load_csv_with_labels` without the label names.
    """
    X, y, _ = load_csv_with_labels(source)
    return X, y


# --------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------


def _label_strings(y: np.ndarray, label_names) -> list[str]:
    if label_names is not None:
        names = [str(name) for name in label_names]
        if y.dtype.kind not in "iu" or (y.size and (y.min() < 0 or y.max() >= len(names))):
            raise ValueError(
                f"With label_names (length {len(names)}), y must hold integer codes "
                f"0..{len(names) - 1}."
            )
        labels = [names[code] for code in y.tolist()]
    elif y.dtype.kind in "iu":
        labels = [str(value) for value in y.tolist()]
    elif y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise ValueError("Float labels in y must be whole numbers (e.g. 0.0, 1.0).")
        labels = [str(int(value)) for value in y.tolist()]
    elif y.dtype.kind in "USO":
        labels = [str(value) for value in y.tolist()]
    else:
        raise ValueError(f"y must hold integer or string labels, got dtype {y.dtype}.")
    for index, label in enumerate(labels):
        if not label.strip():
            raise ValueError(f"y[{index}] is an empty label; every point needs a label.")
    return labels


def _csv_text(X: np.ndarray, y, label_names=None) -> str:
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must have shape [n, 2], got {X.shape}.")
    if X.dtype.kind not in "iuf":
        raise ValueError(f"X must be numeric, got dtype {X.dtype}.")
    if y.ndim != 1 or len(y) != len(X):
        raise ValueError(f"y must have shape [{len(X)}] to match X, got {y.shape}.")
    X64 = X.astype(np.float64)
    if not np.all(np.isfinite(X64)) or np.any(np.abs(X64) >= _FLOAT32_OVERFLOW):
        raise ValueError("X must contain only finite values within the float32 range.")
    if np.any(np.abs(X64.astype(np.float32)) > MAX_CSV_ABS):
        raise ValueError(
            f"X must lie within ±{MAX_CSV_ABS:,.0f} (what load_csv accepts); rescale it first."
        )
    labels = _label_strings(y, label_names)

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(REQUIRED_COLUMNS)
    # str() of a float32 is the shortest text that reads back to the same float32.
    for (x_value, y_value), label in zip(X64.astype(np.float32), labels):
        writer.writerow((str(x_value), str(y_value), label))
    return buffer.getvalue()


def save_csv(path_or_buffer, X, y, label_names=None) -> None:
    """Write points as an ``x,y,label`` CSV file that :func:`load_csv` reads back exactly.

    Parameters
    ----------
    path_or_buffer : str, os.PathLike or writable file-like
        Destination path (written as UTF-8), or a text (``io.StringIO``) or
        binary (``io.BytesIO``) buffer.
    X : array-like of numbers, shape [n, 2]
        Finite coordinates; written at float32 precision (shortest exact text).
    y : array-like, shape [n]
        Labels: integers, whole-number floats, or strings.
    label_names : sequence of str, optional
        If given, ``y`` holds codes and ``label_names[code]`` is written
        (the inverse of :func:`load_csv_with_labels`).

    Raises
    ------
    ValueError
        On wrong shapes, non-finite X or empty labels.
    """
    text = _csv_text(X, y, label_names)
    if isinstance(path_or_buffer, (str, os.PathLike)):
        with open(path_or_buffer, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
    elif isinstance(path_or_buffer, (io.RawIOBase, io.BufferedIOBase)):
        path_or_buffer.write(text.encode("utf-8"))
    elif isinstance(path_or_buffer, io.TextIOBase):
        path_or_buffer.write(text)
    elif hasattr(path_or_buffer, "write"):
        try:
            path_or_buffer.write(text)
        except TypeError:
            path_or_buffer.write(text.encode("utf-8"))
    else:
        raise TypeError(
            "save_csv expects a file path or a writable file-like object, "
            f"got {type(path_or_buffer).__name__}."
        )
