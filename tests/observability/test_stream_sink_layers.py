"""StreamSink on text streams other than stdout: each line goes through the layers the
stream has (memory, compression, a codec with a byte order mark), never around them."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

from daloy_edge.observability._sinks import StreamSink


def test_a_text_stream_over_memory_keeps_every_line_not_only_the_first() -> None:
    # No descriptor: the first line went through the stream, every later one to
    # descriptor -1 (EBADF), lost and counted.
    memory = io.BytesIO()
    stream = io.TextIOWrapper(memory, encoding="utf-8")
    sink = StreamSink(stream)
    for number in range(3):
        sink.write(json.dumps({"n": number}))
    stream.flush()
    assert memory.getvalue() == b'{"n": 0}\n{"n": 1}\n{"n": 2}\n'
    assert sink.dropped == 0


def test_a_gzip_log_file_gets_compressed_lines_not_raw_bytes_in_it(tmp_path: Path) -> None:
    # ``gzip.open(path, "wt")`` is a TextIOWrapper whose descriptor is the compressed
    # file's: lines written to it with os.write made the file no gzip at all.
    path = tmp_path / "requests.log.gz"
    with gzip.open(path, "wt", encoding="utf-8") as stream:
        sink = StreamSink(stream)
        for number in range(3):
            sink.write(json.dumps({"n": number}))
    with gzip.open(path, "rt", encoding="utf-8") as read:
        assert read.read().splitlines() == ['{"n": 0}', '{"n": 1}', '{"n": 2}']


def test_a_utf16_log_file_has_one_byte_order_mark_not_one_per_line(tmp_path: Path) -> None:
    path = tmp_path / "requests.log"
    with open(path, "w", encoding="utf-16") as stream:
        sink = StreamSink(stream)
        for number in range(3):
            sink.write(json.dumps({"n": number}))
    assert path.read_text(encoding="utf-16").splitlines() == ['{"n": 0}', '{"n": 1}', '{"n": 2}']


def test_a_plain_log_file_gets_every_line_in_order(tmp_path: Path) -> None:
    path = tmp_path / "requests.log"
    with open(path, "a", encoding="utf-8") as stream:
        sink = StreamSink(stream)
        stream.write("before\n")  # left in the stream's buffer: written first
        sink.write('{"n": 1}')
        stream.write("after\n")
    assert path.read_text().splitlines() == ["before", '{"n": 1}', "after"]
