"""Reading and writing tables: JSONL, JSON arrays, CSV / TSV, Parquet and (read only) Excel ``.xlsx``; any of them
compressed as ``.gz`` or ``.zst`` (read by the extension, e.g. ``labels.csv.gz``).

Every failure to read becomes an :class:`~auditor.errors.InputError` naming the file, the row and the column.
Rows are counted from 1 over data records (a CSV header is not a row; JSONL rows are its lines).  Writes are
atomic: a temporary file in the target folder, then :func:`os.replace`, so a failed run leaves nothing half written;
:func:`check_writable` finds an output that cannot be written before a command does any work.

CSV and TSV files are opened in spreadsheets, which run a cell starting with ``=``, ``+``, ``-``, ``@``, a tab or
a carriage return as a formula (OWASP "CSV injection").  :func:`write_table` writes such a text cell with a
single quote in front (``'=HYPERLINK(...)``), the spreadsheets' own mark for "text"; numbers (``-0.5`` in a
numeric column, or a text cell that is a plain number) are left alone, and so is every other format.  CSV and TSV
lines end in CRLF (RFC 4180), so a carriage return inside a cell is quoted and stays in its cell.
:func:`read_table` takes that one quote off again, so a table the tool wrote reads back exactly.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from glob import escape as glob_escape
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from auditor.errors import InputError, shown
from auditor.files import check_input_file, read_input

ROW = "__row__"  # hidden column: the row number to cite in error messages
FILE = (
    "__file__"  # hidden column of a table read from several files: each row's file, to cite in error messages
)

TABLE_SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv", ".tsv", ".parquet", ".pq", ".xlsx")
#: Compressions read by the last suffix (``labels.jsonl.gz``).
COMPRESSED_SUFFIXES = (".gz", ".zst")
#: The suffixes :func:`write_table` writes.
WRITE_SUFFIXES = (".jsonl", ".ndjson", ".csv", ".tsv", ".parquet", ".pq")

#: A text cell a spreadsheet would run as a formula once the quotes the writer adds are taken off: any number of
#: single quotes, then ``=``, ``+``, ``-``, ``@``, a tab or a carriage return.
_FORMULA_LEAD = re.compile(r"'*[=+\-@\t\r]")
#: A text cell that is a plain decimal number (``-0.5``, ``+3``, ``1e-3``): a number to a spreadsheet, never quoted.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
#: A cell the writer quoted: one single quote before a :data:`_FORMULA_LEAD`.
_QUOTED_FORMULA = r"^'(?='*[=+\-@\t\r])"


def _decode(path: Path, data: bytes) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            f"is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}, line {line}); "
            "save the file as UTF-8",
            file=str(path),
            row=line,
        ) from None
    return text


class JsonNumber(float):
    """A JSON number with a fraction or an exponent, as a float that keeps the text it was written as (``1e20``):
    an id written as a number is read as exactly that text (:func:`auditor.data`'s keys), never through float."""

    __slots__ = ("text",)

    def __new__(cls, text: str) -> JsonNumber:
        number = super().__new__(cls, text)
        number.text = text
        return number


class DuplicateKey(Exception):
    """A JSON object holds the same key twice (JSON parsers would keep the last value silently)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    record = dict(pairs)
    if len(record) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(key)
            seen.add(key)
    return record


#: The one JSON reader of data files: duplicate keys refused, numbers with a fraction or exponent kept with their text.
JSON_DECODER = json.JSONDecoder(object_pairs_hook=_json_object, parse_float=JsonNumber)
_SCAN = JSON_DECODER.scan_once  # the scanner behind decode(line), without its per-call checks
_WHITESPACE = re.compile(r"[ \t\n\r]*")  # JSON's own whitespace


def _json_failure(path: Path, row: int, exc: BaseException, what: str) -> InputError:
    """The one-line error of a JSON value that cannot be read: invalid, nested too deep, a key given twice."""
    if isinstance(exc, DuplicateKey):
        return InputError(
            f"holds the key {shown(exc.key)} twice in one JSON object; each key once (JSON readers differ on "
            "which value wins)",
            file=str(path),
            row=row,
            column=exc.key if len(exc.key) <= 60 and exc.key.isprintable() else shown(exc.key),
        )
    if isinstance(exc, RecursionError):
        return InputError(
            f"holds a JSON value nested too deep to read (a list or object inside another, hundreds of levels "
            f"down); {what}",
            file=str(path),
            row=row,
        )
    if isinstance(exc, json.JSONDecodeError):
        return InputError(
            f"is not valid JSON ({exc.msg} at character {exc.colno}); {what}", file=str(path), row=row
        )
    return InputError(f"is not valid JSON; {what}", file=str(path), row=row)


def _decode_json(text: str, start: int = 0) -> tuple[Any, int]:
    """One JSON value of ``text`` from ``start`` (after JSON whitespace): the value and where it ends."""
    start = _WHITESPACE.match(text, start).end()
    try:
        return _SCAN(text, start)
    except StopIteration as exc:
        raise json.JSONDecodeError("Expecting value", text, exc.value) from None


def _jsonl_lines(text: str) -> list[str]:
    """The lines of a JSON Lines text: split at ``\\n`` only (a raw U+2028 / U+2029 inside a string is valid
    JSON, not a line end), a ``\\r`` before it dropped (looked for only in a text that has one)."""
    lines = text.split("\n")
    if "\r" in text:
        lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    return lines


def _read_jsonl(path: Path, text: str) -> pd.DataFrame:
    records = []
    rows = []
    scan = _SCAN
    expected = "expected one JSON object per line"
    for lineno, line in enumerate(_jsonl_lines(text), start=1):
        # fast path: a line that is exactly one JSON object (no surrounding blanks) is what decode(line) would
        # return; anything else takes the checked path below, with its messages
        try:
            record, end = scan(line, 0)
        except (StopIteration, ValueError):
            end = -1
        except (DuplicateKey, RecursionError) as exc:
            raise _json_failure(path, lineno, exc, expected) from None
        if end == len(line) and type(record) is dict:
            records.append(record)
            rows.append(lineno)
            continue
        if not line.strip():
            continue
        try:
            record, end = _decode_json(line)
            if _WHITESPACE.match(line, end).end() != len(line):
                raise json.JSONDecodeError("Extra data", line, end)
        except (ValueError, DuplicateKey, RecursionError) as exc:
            raise _json_failure(path, lineno, exc, expected) from None
        if not isinstance(record, dict):
            raise InputError(
                f"holds a JSON {type(record).__name__}; {expected}",
                file=str(path),
                row=lineno,
            )
        records.append(record)
        rows.append(lineno)
    return _records_frame(records, rows)


#: A JSON escape of a UTF-16 surrogate (``\\uD800``-``\\uDFFF``): half of a pair, or, alone, a lone surrogate
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _lone_surrogate(value: Any) -> str | None:
    """The first text in ``value`` (a cell: text, or a list / object of them) holding a lone surrogate, or None."""
    if isinstance(value, str):
        return value if _SURROGATE.search(value) else None
    if isinstance(value, dict):
        value = [*value.keys(), *value.values()]
    if isinstance(value, list):
        for item in value:
            found = _lone_surrogate(item)
            if found is not None:
                return found
    return None


def _refuse_lone_surrogates(path: Path, text: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Refuse a text that a JSON escape made a lone surrogate (``"\\ud800"`` without its pair): it is not a
    character, so no UTF-8 column, report or file can hold it.  Looked for only when the file has a surrogate escape
    at all (a valid pair decodes to one character and passes)."""
    if _SURROGATE_ESCAPE.search(text) is None:
        return frame
    for column in frame.columns:
        if _lone_surrogate(column) is not None:
            raise InputError(
                f"has a column name {shown(column)} holding a lone surrogate escape (half of a UTF-16 pair, not a "
                "character); write the character itself, or both halves of its pair",
                file=str(path),
            )
    for column in frame.columns.drop(ROW):
        for row, value in zip(frame[ROW], frame[column], strict=True):
            found = _lone_surrogate(value)
            if found is not None:
                raise InputError(
                    f"holds a lone surrogate escape in {shown(found)} (half of a UTF-16 pair, not a character: no "
                    "UTF-8 text can hold it); write the character itself, or both halves of its pair",
                    file=str(path),
                    row=int(row),
                    column=column,
                )
    return frame


def _records_frame(records: list[dict], rows: list[int] | range) -> pd.DataFrame:
    """The records as a table of Python objects: no column is converted (an integer column with a missing value
    would become float, and an id beyond 2**53 another id)."""
    frame = pd.DataFrame(records, dtype=object) if records else pd.DataFrame()
    frame[ROW] = rows
    return frame


def _read_json_array(path: Path, text: str) -> pd.DataFrame:
    """A JSON array of objects (or one object); rows are the records, counted from 1."""
    expected = "expected a JSON array of objects"
    position = _WHITESPACE.match(text).end()
    if text.startswith("{", position):
        items: list[Any] = []
        ends = [position]
    elif text.startswith("[", position):
        items, ends = [], [position + 1]
    else:
        try:
            _decode_json(text, position)
        except (ValueError, RecursionError) as exc:
            raise _json_failure(path, 1, exc, expected) from None
        raise InputError(expected, file=str(path))
    single = text.startswith("{", position)
    position = ends[0]
    while True:
        position = _WHITESPACE.match(text, position).end()
        if not single and not items and text.startswith("]", position):
            position += 1
            break
        row = len(items) + 1
        try:
            value, position = _decode_json(text, position)
        except (ValueError, DuplicateKey, RecursionError) as exc:
            raise _json_failure(path, row, exc, expected) from None
        if not isinstance(value, dict):
            raise InputError(
                f"holds a JSON {type(value).__name__}; expected an object", file=str(path), row=row
            )
        items.append(value)
        if single:
            break
        position = _WHITESPACE.match(text, position).end()
        if text.startswith(",", position):
            position += 1
            continue
        if text.startswith("]", position):
            position += 1
            break
        error = json.JSONDecodeError("Expecting ',' delimiter or ']'", text, position)
        raise _json_failure(path, row, error, expected)
    if _WHITESPACE.match(text, position).end() != len(text):
        error = json.JSONDecodeError("Extra data", text, position)
        raise _json_failure(path, len(items), error, expected)
    return _records_frame(items, range(1, len(items) + 1))


MAX_COLUMNS = 10_000


def _delimiter_fix(delim: str) -> str:
    from auditor.config import fix_text

    return fix_text("input", {"delimiter": delim}, delimiter=delim)


def _delimiter_name(sep: str) -> str:
    return {",": "a comma", "\t": "a tab", ";": "a semicolon", "|": "a pipe"}.get(sep, repr(sep))


def _read_delimited(path: Path, text: str, sep: str, *, chosen: bool = False) -> pd.DataFrame:
    header = text.lstrip("\n").partition("\n")[0]
    if header.count(sep) >= MAX_COLUMNS:
        raise InputError(
            f"has {header.count(sep) + 1} columns in its header; expected at most {MAX_COLUMNS}",
            file=str(path),
            row=None,
        )
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_filter=False)
    except pd.errors.EmptyDataError:
        raise InputError("is empty: expected a header row and data rows", file=str(path)) from None
    except pd.errors.ParserError as exc:
        reason = _first_line(exc)  # pandas ends some of its messages with a newline
        match = re.search(r"line (\d+)", reason)
        row = int(match.group(1)) - 1 if match else None
        raise InputError(
            f"cannot be parsed as {'TSV' if sep == chr(9) else 'CSV'} with {_delimiter_name(sep)} between "
            f"columns: {reason}",
            file=str(path),
            row=row,
        ) from None
    frame = frame.replace({"": None})
    frame = _unquote_formulas(frame)
    frame[ROW] = range(1, len(frame) + 1)
    others = "".join(d for d in ";\t|," if d != sep)
    if not chosen and len(frame.columns) == 2 and any(d in frame.columns[0] for d in others):
        delim = max(others, key=frame.columns[0].count)
        raise InputError(
            f"has a single column {frame.columns[0]!r}: the delimiter looks like {delim!r}, expected "
            f"{_delimiter_name(sep)}. {_delimiter_fix(delim)}",
            file=str(path),
            column=frame.columns[0],
        )
    return frame


def _cells_as_objects(
    frame: pd.DataFrame, *, text_columns: Collection[str] = (), row_numbers: bool = True
) -> pd.DataFrame:
    """Missing cells as None, every other cell as it was read (binary readers give NaN for an empty cell); a text
    column named in ``text_columns`` is left as the Parquet reader gave it (:func:`is_read_text`).  Each record's
    row number in :data:`ROW` (here its position + 1) unless ``row_numbers`` is False."""
    frame = frame.copy(deep=False)
    for position, name in enumerate(frame.columns):
        column = frame.iloc[:, position]
        if not (name in text_columns and is_read_text(column)):
            frame.isetitem(position, _as_objects(column))
    if row_numbers:
        frame[ROW] = range(1, len(frame) + 1)
    return frame


def is_read_text(column: pd.Series) -> bool:
    """A text column as the Parquet reader gives it (pandas' nullable string type, missing as ``pd.NA``; pyarrow
    text under pandas 3; or categories of text, a column read as its dictionary, :func:`_dictionary_columns`), not
    yet Python objects: :func:`read_table`'s ``text_columns``."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return pd.api.types.is_string_dtype(column.dtype.categories)
    return isinstance(column.dtype, pd.StringDtype) and column.dtype.na_value is pd.NA


def text_codes(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """A text column (pandas' string type) factorised: each row's code (-1: missing; int32 for pyarrow's text,
    Arrow's dictionary index type, else pandas' int64) and the distinct texts as
    Python ``str`` in order of first appearance, with a final None, so that ``texts[codes]`` is the column as
    Python objects (each distinct text one ``str`` shared by its rows: ten million rows of a million distinct ids
    make a million strings, not ten million)."""
    codes, distinct = distinct_texts(column)
    return codes, np.append(distinct.to_numpy(dtype=object), None)


def distinct_texts(column: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """:func:`text_codes` with the distinct texts still in the column's string type (no final None): for a caller
    that works on them as text (strips them) before it makes Python objects of them."""
    if isinstance(column.dtype, pd.CategoricalDtype):  # read as its dictionary: one pass over small codes
        codes, uniques = pd.factorize(column, use_na_sentinel=True)
        texts = pd.Series(np.asarray(uniques, dtype=object), dtype=pd.StringDtype("pyarrow"))
        return codes.astype(np.int32), texts
    if column.dtype.storage != "pyarrow":
        codes, uniques = pd.factorize(column, use_na_sentinel=True)
        return codes.astype(np.int64, copy=False), pd.Series(uniques, dtype=column.dtype)
    import pyarrow as pa

    data = pa.array(column.array)  # the column's own Arrow data: one array, or (as read) one per row group
    encoded = (data if isinstance(data, pa.ChunkedArray) else pa.chunked_array([data])).dictionary_encode()
    chunks = encoded.chunks
    if not chunks:
        return np.empty(0, dtype=np.int32), pd.Series([], dtype=column.dtype)
    if not all(_same_buffers(chunk.dictionary, chunks[0].dictionary) for chunk in chunks[1:]):
        chunks = [encoded.combine_chunks()]  # one dictionary for every chunk (what pandas' factorize does)
    codes = np.empty(len(column), dtype=np.int32)  # Arrow's own index type: half of int64's 80 MB at 10M rows
    start = 0
    for chunk in chunks:
        indices = chunk.indices.fill_null(-1) if chunk.null_count else chunk.indices
        codes[start : start + len(chunk)] = indices.to_numpy()
        start += len(chunk)
    return codes, pd.Series(pd.arrays.ArrowStringArray(chunks[0].dictionary), dtype=column.dtype)


def _same_buffers(first: Any, second: Any) -> bool:
    """Two Arrow arrays on the same memory (a chunked array's dictionary encoding gives every chunk the one
    dictionary of the whole column: checked, not assumed, since merging 77 copies of it costs seconds at 10M rows)."""
    return len(first) == len(second) and [b and b.address for b in first.buffers()] == [
        b and b.address for b in second.buffers()
    ]


def _as_objects(column: pd.Series) -> pd.Series:
    """A column as Python objects, None where a value is missing (a text column by way of :func:`text_codes`)."""
    if isinstance(column.dtype, pd.StringDtype):
        codes, texts = text_codes(column)
        return pd.Series(texts[codes], index=column.index, name=column.name, dtype=object, copy=False)
    return column.astype(object).where(column.notna(), None)


def _first_line(exc: BaseException, limit: int = 200) -> str:
    """An exception's message on one line, cut to ``limit`` characters (a library's message may run to pages)."""
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _read_parquet(
    path: Path, source: Path | io.BytesIO, text_columns: Collection[str] = (), row_numbers: bool = True
) -> pd.DataFrame:
    """A Parquet file with nullable column types (an int64 column with a missing value stays integer, so an id
    beyond 2**53 keeps its digits), every cell then a Python object, but in the text columns named in
    ``text_columns`` (:func:`_cells_as_objects`)."""
    dictionary = _dictionary_columns(source, text_columns)
    try:
        frame = pd.read_parquet(source, dtype_backend="numpy_nullable", read_dictionary=dictionary or None)
    except Exception as exc:  # pyarrow raises many types for a broken file
        raise InputError(
            f"cannot be read as Parquet: {type(exc).__name__}: {_first_line(exc)}", file=str(path)
        ) from None
    return _cells_as_objects(frame, text_columns=text_columns, row_numbers=row_numbers)


#: A text column of a Parquet file is read as its dictionary (:func:`_dictionary_columns`) when every row group
#: stores it as a dictionary page of at most one byte per this many rows.
DICTIONARY_ROWS_PER_BYTE = 16


def _dictionary_columns(source: Path | io.BytesIO, columns: Collection[str]) -> list[str]:
    """The text columns among ``columns`` to read as the file's own dictionary (a few distinct values: a judge,
    a label), each row a small code: no text per row and no hash of every row (10M rows, judge, rater and label:
    about 0.5 s CPU less).  A column of many distinct values (ids) is read as text: its dictionary is large beside
    its rows in some row group (the writer may have given it up there), and one per chunk would have to be merged.
    The size of a dictionary page is the distance from it to the first data page.  Either way the column has the
    same texts and codes (:func:`distinct_texts`); a file whose metadata cannot be read, or that names a column
    twice, is left to the reader."""
    if not columns:
        return []
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        metadata = pq.read_metadata(source)
        fields = metadata.schema.to_arrow_schema()
        paths = [metadata.schema.column(position).path for position in range(metadata.num_columns)]
    except Exception:  # the reader names what is wrong
        return []
    finally:
        if isinstance(source, io.BytesIO):
            source.seek(0)
    texts = {field.name for field in fields if field.type in (pa.string(), pa.large_string())}
    chosen = {
        position: path
        for position, path in enumerate(paths)
        if path in texts and path in columns and paths.count(path) == 1 and fields.names.count(path) == 1
    }
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        for position in list(chosen):
            if not _small_dictionary(row_group.column(position), row_group.num_rows):
                del chosen[position]
    return sorted(chosen.values()) if metadata.num_row_groups else []


def _small_dictionary(chunk: Any, rows: int) -> bool:
    """Whether a column chunk's dictionary page holds at most one byte per :data:`DICTIONARY_ROWS_PER_BYTE` rows."""
    start, data = chunk.dictionary_page_offset, chunk.data_page_offset
    if not chunk.has_dictionary_page or not start or data is None or data <= start:
        return False
    return (data - start) * DICTIONARY_ROWS_PER_BYTE <= rows


def _read_excel(path: Path, data: bytes, sheet: str | None) -> pd.DataFrame:
    """The first sheet of an ``.xlsx`` workbook, or the one named ``sheet``; a header row, then data rows."""
    import openpyxl

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # a broken zip or XML: many types
        raise InputError(
            f"cannot be read as Excel (.xlsx): {type(exc).__name__}: {exc}", file=str(path)
        ) from None
    try:
        names = book.sheetnames
        if sheet is not None and sheet not in names:
            from auditor.config import fix_text

            raise InputError(
                f"has no sheet {sheet!r}; sheets: {', '.join(map(repr, names))}. "
                + fix_text("input", {"sheet": names[0]}, sheet=names[0]),
                file=str(path),
            )
        rows = list(book[sheet or names[0]].iter_rows(values_only=True))
    finally:
        book.close()
    while rows and all(is_missing(v) for v in rows[-1]):
        rows.pop()
    if not rows:
        raise InputError("has an empty sheet: expected a header row and data rows", file=str(path))
    header = [None if is_missing(v) else str(v).strip() for v in rows[0]]
    width = max((i + 1 for i, name in enumerate(header) if name is not None), default=0)
    header = [name if name is not None else f"column {i + 1}" for i, name in enumerate(header[:width])]
    body = [list(r[:width]) + [None] * (width - len(r)) for r in rows[1:]]
    return _cells_as_objects(pd.DataFrame(body, columns=header, dtype=object))


def _decompress(path: Path, data: bytes, suffix: str) -> bytes:
    try:
        if suffix == ".gz":
            import gzip

            return gzip.decompress(data)
        import zstandard

        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    except Exception as exc:  # gzip: OSError / EOFError; zstandard: ZstdError
        kind = "gzip" if suffix == ".gz" else "zstandard"
        raise InputError(f"cannot be decompressed as {kind}: {exc}", file=str(path)) from None


def read_table(
    path: str | Path,
    *,
    delimiter: str | None = None,
    sheet: str | None = None,
    text_columns: Collection[str] = (),
    row_numbers: bool = True,
) -> pd.DataFrame:
    """Read a table by its suffix (``.gz`` / ``.zst`` decompressed first, the suffix before them the format); adds
    the hidden ``__row__`` column used to cite rows in errors.

    ``delimiter``: the column separator of a CSV / TSV file (default ``,`` for .csv, a tab for .tsv); ``sheet``:
    the sheet of an Excel file (default the first).  ``text_columns``: text columns of a Parquet file to leave as
    pyarrow read them (:func:`is_read_text`), for a reader that validates whole columns and makes Python objects of
    their distinct values only (:func:`auditor.data.load`); every other column, and every other format, as
    without it.  ``row_numbers=False``: a Parquet file without the ``__row__`` column, for a reader that cites a
    record by its position (a Parquet file's record ``k`` is its row ``k + 1``); every other format keeps it.
    """
    path = Path(path)
    check_input_file(
        path,
        f"a table file ({', '.join(TABLE_SUFFIXES)}, or one of them {' / '.join(COMPRESSED_SUFFIXES)})",
    )
    suffixes = [s.lower() for s in path.suffixes]
    compression = suffixes.pop() if suffixes and suffixes[-1] in COMPRESSED_SUFFIXES else None
    suffix = suffixes[-1] if suffixes else ""
    if suffix not in TABLE_SUFFIXES:
        raise InputError(
            f"has an unknown suffix {suffix!r}; expected one of {', '.join(TABLE_SUFFIXES)}, optionally "
            f"compressed ({', '.join(COMPRESSED_SUFFIXES)})",
            file=str(path),
        )
    if suffix in (".parquet", ".pq") and compression is None:  # read by pyarrow from the file itself
        frame = _read_parquet(path, path, text_columns, row_numbers)
        frame.attrs["path"] = str(path)
        return _nonempty(frame, path)
    data = read_input(path, "a table file")
    if compression is not None:
        data = _decompress(path, data, compression)
    if suffix in (".parquet", ".pq"):
        frame = _read_parquet(path, io.BytesIO(data), text_columns, row_numbers)
    elif suffix == ".xlsx":
        frame = _read_excel(path, data, sheet)
    else:
        if not data.strip():
            raise InputError("is empty: expected a header or records", file=str(path))
        text = _decode(path, data)
        if suffix in (".jsonl", ".ndjson"):
            frame = _refuse_lone_surrogates(path, text, _read_jsonl(path, text))
        elif suffix == ".json":
            frame = _refuse_lone_surrogates(path, text, _read_json_array(path, text))
        else:
            sep = delimiter or ("," if suffix == ".csv" else "\t")
            frame = _read_delimited(path, text, sep, chosen=delimiter is not None)
    frame.attrs["path"] = str(path)
    return _nonempty(frame, path)


def _nonempty(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    if len(frame) == 0:
        raise InputError("has no data rows (header only?)", file=str(path))
    return frame


def is_missing(value: object, *, blank: bool = True) -> bool:
    """The one missing-value test: None, pandas NA / NaT and NaN count as missing, and so do blank strings unless
    ``blank=False`` (then a string is a value whatever it holds)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float):  # numpy's float64 is a float too
        return value != value
    if isinstance(value, str):
        return blank and not value.strip()
    if isinstance(value, np.floating):
        return bool(np.isnan(value))
    return False


#: The types :func:`json_safe` returns as they are, compared exactly (a subclass, such as numpy's ``float64`` or an
#: ``IntEnum``, takes the full path)
_JSON_PLAIN = frozenset({str, int, bool, type(None)})


def json_safe(value: Any) -> Any:
    """The one JSON cleaner: non-finite floats, NaN, pandas NA / NaT become ``None`` (audit.json is strict JSON);
    numpy scalars and arrays become Python ones; tuples become lists; mapping keys become strings.

    A plain dict or list keeps its plain values (:data:`_JSON_PLAIN`) without a call for each: an audit.json holds
    some 100,000 values, most of them text."""
    kind = type(value)
    if kind is dict:
        return {
            key if type(key) is str else str(key): item if type(item) in _JSON_PLAIN else json_safe(item)
            for key, item in value.items()
        }
    if kind is list:
        return [item if type(item) in _JSON_PLAIN else json_safe(item) for item in value]
    if kind is float:
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return [json_safe(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    return value


#: The types ``DataFrame.to_dict`` gives as they are (compared exactly)
_NATIVE = frozenset({str, int, float, bool, type(None)})


def column_values(frame: pd.DataFrame, column: str) -> list[Any]:
    """A column's values as ``frame.to_dict("records")`` gives them, or None for each row where the frame has no
    such column.  A column of plain Python values (:data:`_NATIVE`) is taken as it is; any other goes through
    pandas, which turns numpy scalars and NA into Python values."""
    if column not in frame.columns:
        return [None] * len(frame)
    values = frame[column].tolist()
    if all(type(v) in _NATIVE for v in values):
        return values
    return frame[[column]].to_dict("list")[column]


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """``frame.to_dict("records")``, built a column at a time (:func:`column_values`): pandas boxes every value on
    its own, 76 ms for the 8,814 metric rows of an audit against 26 ms."""
    names = frame.columns.tolist()
    if not names:
        return [{} for _ in range(len(frame))]
    return [
        dict(zip(names, row, strict=True))
        for row in zip(*(column_values(frame, n) for n in names), strict=True)
    ]


def _new_file_mode(target: Path) -> int:
    """The existing file's permissions, else 0666 minus the process umask (``mkstemp`` alone makes 0600)."""
    try:
        return target.stat().st_mode & 0o777
    except FileNotFoundError:
        return 0o666 & ~_umask()


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it is flushed to disk and replaces ``target`` (readers
    see the old file or the whole new one), on failure it is removed.  The one atomic writer: every write of the
    project goes through it.  The temporary file is ``.NAME.PID.XXXX.tmp``: one that a killed run left behind is
    removed by the next write of ``target``."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_stages(target)
    fd, tmp = tempfile.mkstemp(
        prefix=f"{_stage_prefix(target)}{os.getpid()}.", suffix=".tmp", dir=target.parent
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        os.chmod(tmp_path, _new_file_mode(target))
        yield tmp_path
        with open(tmp_path, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp_path, target)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


#: ``renameat2``'s flag that swaps two paths in one step (Linux 3.15+, glibc 2.28+).
_RENAME_EXCHANGE = 2


def _exchange(first: Path, second: Path) -> bool:
    """Swap two existing paths in one step (``renameat2(RENAME_EXCHANGE)``); False where the system cannot."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_cwd = -100
    result = renameat2(at_cwd, os.fsencode(first), at_cwd, os.fsencode(second), _RENAME_EXCHANGE)
    if result == 0:
        return True
    errno = ctypes.get_errno()
    if errno in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: this file system or kernel cannot swap
        return False
    raise OSError(errno, os.strerror(errno), str(second))


def _stage_prefix(target: Path) -> str:
    return f".{target.name}."


def _remove_stale_stages(target: Path) -> None:
    """Remove the temporary files and staging folders that runs killed mid-write left beside ``target``
    (``.NAME.PID.XXXX.tmp`` whose process is gone)."""
    prefix = _stage_prefix(target)
    for stage in target.parent.glob(f"{glob_escape(prefix)}*.tmp"):
        pid = stage.name[len(prefix) :].partition(".")[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
            continue  # that run is still going
        except ProcessLookupError:
            pass
        except OSError:
            continue
        if stage.is_dir() and not stage.is_symlink():
            shutil.rmtree(stage, ignore_errors=True)
        else:
            stage.unlink(missing_ok=True)


def _link_tree(source: Path, stage: Path) -> None:
    """``source``'s files into ``stage`` as hard links (copies where the file system has none), its folders as
    new folders: the files a run does not rewrite stay as they were."""
    for entry in source.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, stage / entry.name, symlinks=True, copy_function=_link_or_copy)
        else:
            _link_or_copy(entry, stage / entry.name)


def _link_or_copy(source: str | Path, target: str | Path) -> None:
    if Path(source).is_symlink():
        os.symlink(os.readlink(source), target)
        return
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


@contextmanager
def staged_folder(target: str | Path) -> Iterator[Path]:
    """Yield a staging folder beside ``target`` holding what ``target`` holds (hard links); the caller writes a
    run's outputs into it.  On success the staging folder takes ``target``'s place in one step (an atomic swap
    of the two folders, then the old one is removed), so a run killed at any moment leaves ``target`` with either
    its old set of files or the new set, never a mix; on failure the staging folder is removed.  A staging folder
    is hidden (``.NAME.PID.XXXX.tmp``); one left by a killed run is removed by the next run into ``target``.

    Where one step is impossible (no ``renameat2``, e.g. macOS; or ``target`` holds the working directory), the
    files are written into ``target`` itself, each atomically (:func:`atomic_path`)."""
    target = Path(target)
    if target.is_symlink():
        target = target.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_stages(target)
    cwd = Path.cwd().resolve()
    if target.exists() and (cwd == target.resolve() or target.resolve() in cwd.parents):
        target.mkdir(exist_ok=True)
        yield target
        return
    stage = target.parent / f"{_stage_prefix(target)}{os.getpid()}.{secrets.token_hex(6)}.tmp"
    taken = False  # the name is another run's: never removed
    try:
        try:
            os.mkdir(stage, 0o700)
        except FileExistsError:
            taken = True
            raise
        os.chmod(stage, target.stat().st_mode & 0o7777 if target.exists() else 0o777 & ~_umask())
        if target.exists():
            _link_tree(target, stage)
        yield stage
        if not target.exists():
            os.rename(stage, target)
            return
        if not _exchange(stage, target):  # no one-step swap here: the files one by one, each atomic
            for entry in stage.iterdir():
                old = target / entry.name
                if entry.is_file() and not (old.exists() and old.samefile(entry)):
                    os.replace(entry, old)
    finally:  # on failure the new set, on success the old one (swapped into the staging folder)
        if not taken:
            try:
                shutil.rmtree(stage, ignore_errors=True)
            except BaseException:  # stopped while removing it: once more, then stop
                shutil.rmtree(stage, ignore_errors=True)
                raise


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def check_writable(path: str | Path, kind: Literal["table", "file", "folder"] = "file") -> Path:
    """Check, before any work, that a command can write ``path``: an :class:`~auditor.errors.InputError` naming it
    when it cannot.

    ``kind``: ``table`` (a file :func:`write_table` writes: its suffix must be one of :data:`WRITE_SUFFIXES`),
    ``file`` (any file, e.g. a cache) or ``folder`` (a folder the command writes files into).  A file must not be
    an existing folder (nor a folder an existing file), an existing file must be writable, and the folder it goes
    into must exist or be creatable (as :func:`atomic_path` creates it): the nearest existing folder on the way
    must take a new file, which is tried for real (a temporary file, removed at once).  An output folder is
    written as a staging folder beside it (:func:`staged_folder`), so its parent is the one tried.
    """
    path = Path(path)
    if kind == "folder":
        if path.exists() and not path.is_dir():
            raise InputError("exists and is not a folder; expected an output folder", file=str(path))
    else:
        if path.is_dir():
            raise InputError("is a folder; expected a file to write", file=str(path))
        if kind == "table" and path.suffix.lower() not in WRITE_SUFFIXES:
            raise InputError(
                f"has an unknown output suffix {path.suffix.lower() or '(none)'!r}; expected one of "
                f"{', '.join(WRITE_SUFFIXES)}",
                file=str(path),
            )
        if path.exists() and not os.access(path, os.W_OK):
            raise InputError("exists and is not writable", file=str(path))
    existing = path.absolute().parent  # a folder is written as a staging folder beside it (staged_folder)
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f"cannot be written: {existing} is a file, not a folder", file=str(path))
    try:
        # named as a temporary file of ``path``: one left by a run killed right here is removed by the next run
        handle, probe = tempfile.mkstemp(
            prefix=f"{_stage_prefix(path)}{os.getpid()}.", suffix=".tmp", dir=existing
        )
    except OSError as exc:
        raise InputError(
            f"cannot be written: the folder {existing} does not take new files ({exc.strerror})",
            file=str(path),
        ) from None
    os.close(handle)
    os.unlink(probe)
    return path


def write_text(path: str | Path, text: str) -> Path:
    """Write text atomically (UTF-8, ``\\n`` line ends on every platform)."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
    return Path(path)


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write bytes atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


#: One value as one line of JSON (``json``'s C encoder: no indent, strict UTF-8 JSON)
_one_line = json.JSONEncoder(ensure_ascii=False, allow_nan=False, default=str).encode


def json_text(value: Any, indent: str = "") -> str:
    """``value`` (already :func:`json_safe`) as the JSON text every file of ours is written in (audit.json, the
    monitor's state, ``AuditResult.to_json``), laid out for reading and for line diffs: an object has one key per
    line, indented two spaces a level; a list of objects or lists has one item per line, each item on that one line
    (a metric row, a case, a confusion matrix); a list of plain values (the judges, the categories) stays on one
    line.  Every line comes from ``json``'s C encoder: an indent would make ``json`` take its pure-Python encoder for
    the whole document, ten times slower on a case list.  ``indent`` is the indent of the line ``value`` starts on."""
    inner = indent + "  "
    if isinstance(value, dict) and value:
        keys = [f"{inner}{_one_line(str(key))}: {json_text(item, inner)}" for key, item in value.items()]
        return "{\n" + ",\n".join(keys) + "\n" + indent + "}"
    if isinstance(value, list) and any(isinstance(item, (dict, list)) for item in value):
        return "[\n" + ",\n".join(inner + _one_line(item) for item in value) + "\n" + indent + "]"
    return _one_line(value)


def write_json(path: str | Path, document: Any) -> Path:
    """Write a JSON document atomically, cleaned by :func:`json_safe` (strict JSON: no NaN), laid out by
    :func:`json_text`."""
    return write_text(path, json_text(json_safe(document)) + "\n")


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a DataFrame atomically; the format follows the suffix (.jsonl, .csv, .tsv, .parquet)."""
    path = Path(path)
    frame = frame.drop(columns=[ROW], errors="ignore")
    suffix = path.suffix.lower()
    with atomic_path(path) as tmp:
        if suffix in (".jsonl", ".ndjson"):
            with tmp.open("w", encoding="utf-8") as fh:
                for record in frame.to_dict(orient="records"):
                    clean = {k: (None if _scalar_missing(v) else v) for k, v in record.items()}
                    fh.write(json.dumps(clean, ensure_ascii=False, default=_json_default) + "\n")
        elif suffix in (".csv", ".tsv"):
            # CRLF line ends (RFC 4180): the csv module quotes a cell holding any character of the line end, so
            # a lone carriage return in a cell (which pandas' reader takes for a line end) stays in its cell
            _quote_formulas(frame).to_csv(
                tmp, index=False, sep="," if suffix == ".csv" else "\t", lineterminator="\r\n"
            )
        elif suffix in (".parquet", ".pq"):
            frame.to_parquet(tmp, index=False)
        else:
            raise InputError(f"unknown output suffix {suffix!r}", file=str(path))
    return path


def neutralise_cell(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula (:data:`_FORMULA_LEAD`, not a plain number) with a single
    quote in front; any other value as it is."""
    if isinstance(value, str) and _FORMULA_LEAD.match(value) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def _quote_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with :func:`neutralise_cell` applied to its column names and to every cell of its text columns
    (numeric, boolean and datetime columns hold no text and are left alone); ``frame`` itself is not changed."""
    quoted = frame.copy(deep=False)
    for number in range(frame.shape[1]):
        column = frame.iloc[:, number]
        dtype = column.dtype
        if not (
            pd.api.types.is_numeric_dtype(dtype)
            or pd.api.types.is_bool_dtype(dtype)
            or pd.api.types.is_datetime64_any_dtype(dtype)
        ):
            quoted.isetitem(number, column.map(neutralise_cell))
    quoted.columns = [neutralise_cell(column) for column in frame.columns]
    return quoted


def _unquote_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """The cells (and column names) of a CSV / TSV read as text, without the quote :func:`neutralise_cell`
    added: one leading ``'`` before ``'*`` and a formula character comes off."""
    frame.columns = [re.sub(_QUOTED_FORMULA, "", column) for column in frame.columns]
    for number in range(len(frame.columns)):
        column = frame.iloc[:, number]
        quoted = column.str.startswith("'", na=False)
        if quoted.any():
            frame.iloc[:, number] = column.where(~quoted, column.str.replace(_QUOTED_FORMULA, "", regex=True))
    return frame


def _scalar_missing(value: object) -> bool:
    return is_missing(value, blank=False)


def _json_default(value: object) -> object:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
