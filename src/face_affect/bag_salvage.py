"""What a damaged bag still holds: its records read front to back, up to the damage.

``rosbags`` opens a bag through what is written last (a ROS 1 bag's index, an MCAP file's summary
and footer, the page count in an SQLite header), so a recording cut short (power lost, disk full, a
copy interrupted) does not open at all. :class:`SalvagedBag` walks the records from the start
instead, as ``rosbag reindex`` and ``mcap recover`` do, and stops at the first incomplete or
malformed one (a bit flipped by a failing disk, a record half overwritten) with a
:class:`DamagedBagError`, never a ``KeyError`` or ``struct.error`` from deep inside. It offers the
part of ``rosbags.highlevel.AnyReader`` that :class:`~face_affect.recordings.Recording` uses.
"""

from __future__ import annotations

import bz2
import os
import shutil
import sqlite3
import struct
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from lz4.frame import decompress as lz4_decompress
from rosbags.interfaces import (
    Connection,
    ConnectionExtRosbag1,
    ConnectionExtRosbag2,
    MessageDefinition,
    MessageDefinitionFormat,
)
from rosbags.typesys import Stores, TypesysError, get_types_from_idl, get_types_from_msg, get_typestore

try:
    from compression import zstd  # Python 3.14
except ImportError:
    from backports import zstd  # rosbags' own dependency before 3.14

ROS1_MAGIC = b"#ROSBAG V2.0\n"
MCAP_MAGIC = b"\x89MCAP0\r\n"
SQLITE_MAGIC = b"SQLite format 3\x00"
ROS1_CHUNK, ROS1_CONNECTION, ROS1_MESSAGE = 0x05, 0x07, 0x02
MCAP_SCHEMA, MCAP_CHANNEL, MCAP_MESSAGE, MCAP_CHUNK, MCAP_DATA_END = 0x03, 0x04, 0x05, 0x06, 0x0F


class DamagedBagError(Exception):
    """Where the records stop making sense; what came before was read."""


def bag_kind(path: Path) -> str:
    """``ros1``, ``mcap`` or ``sqlite3`` from the file's first bytes; empty if it is none of them."""
    with path.open("rb") as file:
        start = file.read(16)
    for kind, magic in (("ros1", ROS1_MAGIC), ("mcap", MCAP_MAGIC), ("sqlite3", SQLITE_MAGIC)):
        if start.startswith(magic):
            return kind
    return ""


RawMessage = tuple[Connection, int, bytes]


class SalvagedBag:
    """The readable messages of one damaged bag file, in file order; :meth:`messages` raises
    :class:`DamagedBagError` where the file stops making sense. A first pass finds the topics (and
    counts the messages), a second yields them."""

    def __init__(self, path: Path) -> None:
        """Reads the whole file once; ``OSError`` if it cannot be read (or copied, for an SQLite bag)."""
        self.path = path
        self.kind = bag_kind(path)
        self.is2 = self.kind != "ros1"
        self.stack: object | None = self  # open, as AnyReader says it
        self.temporary: Path | None = None
        self.connections: list[Connection] = []
        self.typestore = get_typestore(Stores.ROS1_NOETIC if self.kind == "ros1" else Stores.ROS2_HUMBLE)
        self.damage = ""
        try:
            counts: dict[int, int] = {}
            try:
                for connection, _, _ in self.records():
                    counts[connection.id] = counts.get(connection.id, 0) + 1
            except DamagedBagError as damage:
                self.damage = str(damage)
            self.connections = [c._replace(msgcount=counts.get(c.id, 0)) for c in self.found.values()]
            self.register_types()
        except BaseException:
            self.close()  # the SQLite copy
            raise

    def close(self) -> None:
        self.stack = None
        if self.temporary is not None:
            shutil.rmtree(self.temporary, ignore_errors=True)
            self.temporary = None

    def messages(self, connections: Sequence[Connection] = ()) -> Iterator[RawMessage]:
        wanted = {connection.id for connection in connections}
        for connection, time_ns, data in self.records():
            if not wanted or connection.id in wanted:
                yield self.by_id[connection.id], time_ns, data

    def deserialize(self, data: bytes, msgtype: str) -> object:
        if self.is2:
            return self.typestore.deserialize_cdr(data, msgtype)
        return self.typestore.deserialize_ros1(data, msgtype)

    @property
    def by_id(self) -> dict[int, Connection]:
        return {connection.id: connection for connection in self.connections}

    def register_types(self) -> None:
        """The bag's own definitions over the default store's (old ROS 2 bags have none). A definition that
        does not parse or contradicts another is left out: its messages are then unreadable, one by one."""
        for connection in self.connections:
            definition = connection.msgdef
            try:
                if definition.format == MessageDefinitionFormat.MSG and definition.data:
                    self.typestore.register(get_types_from_msg(definition.data, connection.msgtype))
                elif definition.format == MessageDefinitionFormat.IDL and definition.data:
                    self.typestore.register(get_types_from_idl(definition.data))
            except (TypesysError, ValueError, KeyError, IndexError):  # rosbags' parser on a damaged definition
                continue

    def records(self) -> Iterator[RawMessage]:
        """Every message record in file order; :class:`DamagedBagError` where a record does not parse."""
        self.found: dict[int, Connection] = {}
        reader = {"ros1": self.ros1_records, "mcap": self.mcap_records, "sqlite3": self.sqlite_records}[self.kind]
        try:
            yield from reader()
        except (KeyError, IndexError, ValueError, struct.error, sqlite3.Error) as error:
            # What the checks below do not name: a field of the wrong length or value, text that is not UTF-8.
            raise DamagedBagError(f"a malformed record ({type(error).__name__}: {error})") from error

    # ROS 1: https://wiki.ros.org/Bags/Format/2.0

    def ros1_records(self) -> Iterator[RawMessage]:
        with self.path.open("rb") as file:
            file.read(len(ROS1_MAGIC))
            while True:
                record = read_ros1_record(file)
                if record is None:
                    return
                header, data = record
                if header["op"][0] == ROS1_CHUNK:
                    compression = as_text(field(header, "compression"), "compression")
                    size = uint32(header, "size")
                    yield from self.ros1_chunk(decompress(data, compression, size))
                elif header["op"][0] == ROS1_CONNECTION:
                    self.ros1_connection(header, data)

    def ros1_chunk(self, chunk: bytes) -> Iterator[RawMessage]:
        stream = _Bytes(chunk)
        while (record := read_ros1_record(stream)) is not None:
            header, data = record
            if header["op"][0] == ROS1_CONNECTION:
                self.ros1_connection(header, data)
            elif header["op"][0] == ROS1_MESSAGE:
                connection = self.found.get(uint32(header, "conn"))
                if connection is None:
                    raise DamagedBagError("a message before its connection record")
                time = field(header, "time")
                if len(time) != 8:
                    raise DamagedBagError(f"a message record whose time has {len(time)} bytes, not 8")
                seconds, nanoseconds = struct.unpack("<II", time)
                yield connection, seconds * 1_000_000_000 + nanoseconds, data

    def ros1_connection(self, header: dict[str, bytes], data: bytes) -> None:
        identifier = uint32(header, "conn")
        if identifier in self.found:
            return
        fields = parse_ros1_fields(data)
        kind = as_text(field(fields, "type"), "type")
        package, slash, name = kind.partition("/")
        if not (package and slash and name):
            raise DamagedBagError(f"a connection record of type {kind!r}, not PACKAGE/NAME")
        self.found[identifier] = Connection(
            identifier,
            as_text(field(header, "topic"), "topic"),
            f"{package}/msg/{name}",
            MessageDefinition(
                MessageDefinitionFormat.MSG, as_text(fields.get("message_definition", b""), "message_definition")
            ),
            as_text(fields.get("md5sum", b""), "md5sum"),
            0,
            ConnectionExtRosbag1(
                as_text(fields["callerid"], "callerid") if "callerid" in fields else None,
                int(fields["latching"]) if "latching" in fields else None,
            ),
            self,
        )

    # MCAP: https://mcap.dev/spec

    def mcap_records(self) -> Iterator[RawMessage]:
        schemas: dict[int, tuple[str, str, str]] = {}
        with self.path.open("rb") as file:
            file.read(len(MCAP_MAGIC))
            yield from self.mcap_stream(file, schemas)

    def mcap_stream(self, stream: BinaryIO | _Bytes, schemas: dict[int, tuple[str, str, str]]) -> Iterator[RawMessage]:
        while True:
            head = stream.read(9)
            if not head:
                return
            if len(head) < 9:
                raise DamagedBagError("a record cut short")
            opcode, length = head[0], struct.unpack("<Q", head[1:])[0]
            body = read_at_most_remaining(stream, length)
            if opcode == MCAP_DATA_END:
                return
            fields = _Bytes(body)
            if opcode == MCAP_SCHEMA:
                identifier = fields.uint(2)
                schemas[identifier] = (fields.string(), fields.string(), as_text(fields.sized(4), "schema"))
            elif opcode == MCAP_CHANNEL:
                identifier, schema = fields.uint(2), fields.uint(2)
                topic, encoding = fields.string(), fields.string()
                name, schema_encoding, text = schemas.get(schema, ("", "", ""))
                definition_format = (
                    MessageDefinitionFormat.IDL if schema_encoding == "ros2idl" else MessageDefinitionFormat.MSG
                )
                self.found.setdefault(
                    identifier,
                    Connection(
                        identifier,
                        topic,
                        name,
                        MessageDefinition(definition_format, text),
                        "",
                        0,
                        ConnectionExtRosbag2(encoding, []),
                        self,
                    ),
                )
            elif opcode == MCAP_MESSAGE:
                channel = fields.uint(2)
                fields.uint(4)  # sequence
                log_time = fields.uint(8)
                fields.uint(8)  # publish time
                connection = self.found.get(channel)
                if connection is None:
                    raise DamagedBagError("a message before its channel record")
                yield connection, log_time, fields.rest()
            elif opcode == MCAP_CHUNK:
                fields.uint(8), fields.uint(8)  # start and end time
                size = fields.uint(8)
                fields.uint(4)  # crc
                compression = fields.string()
                records = fields.sized(8)
                yield from self.mcap_stream(_Bytes(decompress(records, compression, size)), schemas)

    # ROS 2 sqlite3: the rosbag2_storage_default_plugins schema

    def sqlite_records(self) -> Iterator[RawMessage]:
        """SQLite refuses a file shorter than its header says, so a copy says the truth about its length."""
        if self.temporary is None:
            self.temporary = Path(tempfile.mkdtemp(prefix="face_affect_salvage_"))
            truthful_copy(self.path, self.temporary / "bag.db3")
        database = sqlite3.connect(f"file:{self.temporary / 'bag.db3'}?immutable=1", uri=True)
        try:
            try:
                definitions = dict(
                    (row[0], (row[1], row[2]))
                    for row in database.execute(
                        "SELECT topic_type, encoding, encoded_message_definition FROM message_definitions"
                    )
                )
            except sqlite3.DatabaseError:
                definitions = {}  # before Iron: no definitions in the bag
            try:
                topics = list(database.execute("SELECT id, name, type, serialization_format FROM topics"))
            except sqlite3.DatabaseError as error:
                raise DamagedBagError(f"its topics table is unreadable ({error})") from error
            for identifier, name, kind, serialization in topics:
                encoding, text = definitions.get(kind, ("", ""))
                definition_format = {"ros2msg": MessageDefinitionFormat.MSG, "ros2idl": MessageDefinitionFormat.IDL}
                self.found[identifier] = Connection(
                    identifier,
                    name,
                    kind,
                    MessageDefinition(definition_format.get(encoding, MessageDefinitionFormat.NONE), text),
                    "",
                    0,
                    ConnectionExtRosbag2(serialization, []),
                    self,
                )
            rows = database.execute("SELECT topic_id, timestamp, data FROM messages ORDER BY id")
            while True:
                try:
                    row = next(rows)
                except StopIteration:
                    return
                except sqlite3.DatabaseError as error:
                    raise DamagedBagError(str(error)) from error
                connection = self.found.get(row[0])
                if connection is None:
                    raise DamagedBagError(f"a message of topic id {row[0]}, which its topics table lacks")
                yield connection, row[1], row[2]
        finally:
            database.close()


class _Bytes:
    """A cursor over bytes with the little-endian reads that MCAP and ROS 1 records need."""

    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        self.position = 0

    def read(self, size: int) -> bytes:
        chunk = bytes(self.data[self.position : self.position + size])
        self.position += len(chunk)
        return chunk

    def uint(self, size: int) -> int:
        return int.from_bytes(self.exact(size), "little")

    def exact(self, size: int) -> bytes:
        chunk = self.read(size)
        if len(chunk) < size:
            raise DamagedBagError("a record cut short")
        return chunk

    def sized(self, size: int) -> bytes:
        return self.exact(self.uint(size))

    def string(self) -> str:
        return as_text(self.sized(4), "text field")

    def rest(self) -> bytes:
        return self.read(len(self.data) - self.position)


def read_ros1_record(stream: BinaryIO | _Bytes) -> tuple[dict[str, bytes], bytes] | None:
    """One record (header fields, data); ``None`` at a clean end, :class:`DamagedBagError` for a record cut short."""
    length = stream.read(4)
    if not length:
        return None
    fields = parse_ros1_fields(read_block(stream, length))
    if len(fields.get("op", b"")) != 1:
        raise DamagedBagError("a record without a one-byte op code")
    return fields, read_block(stream, stream.read(4))


def read_block(stream: BinaryIO | _Bytes, length: bytes) -> bytes:
    """The block whose little-endian uint32 ``length`` was just read."""
    if len(length) < 4:
        raise DamagedBagError("a record cut short")
    return read_at_most_remaining(stream, struct.unpack("<I", length)[0])


def read_at_most_remaining(stream: BinaryIO | _Bytes, size: int) -> bytes:
    """``size`` bytes; :class:`DamagedBagError` if fewer remain, checked before reading, as a flipped high bit
    of a length asks for exabytes (a ``MemoryError`` from ``read``)."""
    if isinstance(stream, _Bytes):
        remaining = len(stream.data) - stream.position
    else:
        remaining = os.fstat(stream.fileno()).st_size - stream.tell()
    if size > remaining:
        raise DamagedBagError("a record cut short")
    return stream.read(size)


def field(fields: dict[str, bytes], name: str) -> bytes:
    """A record's header field that must be there."""
    if name not in fields:
        raise DamagedBagError(f"a record without its {name} field")
    return fields[name]


def uint32(fields: dict[str, bytes], name: str) -> int:
    value = field(fields, name)
    if len(value) != 4:
        raise DamagedBagError(f"a record whose {name} field has {len(value)} bytes, not 4")
    return struct.unpack("<I", value)[0]


def as_text(value: bytes, what: str) -> str:
    try:
        return bytes(value).decode()
    except UnicodeDecodeError as error:
        raise DamagedBagError(f"a record whose {what} is not UTF-8 text") from error


def truthful_copy(source: Path, copy: Path) -> None:
    """``source`` copied to ``copy`` (by the file system, not through memory: bags are gigabytes) with
    whole pages only and the page count in its header set to them, as SQLite refuses a file shorter
    than its header says."""
    shutil.copyfile(source, copy)
    with copy.open("r+b") as file:
        header = file.read(32)
        if len(header) < 32:
            raise DamagedBagError("an SQLite header cut short")
        stated = int.from_bytes(header[16:18], "big")
        page = 65536 if stated == 1 else stated
        if page < 512 or page & (page - 1):
            raise DamagedBagError(f"an SQLite header with page size {stated}, not a power of two from 512 to 65536")
        pages = file.seek(0, 2) // page
        file.truncate(pages * page)
        file.seek(28)
        file.write(pages.to_bytes(4, "big"))


def parse_ros1_fields(block: bytes) -> dict[str, bytes]:
    fields, position = {}, 0
    while position + 4 <= len(block):
        size = struct.unpack_from("<I", block, position)[0]
        name, _, value = bytes(block[position + 4 : position + 4 + size]).partition(b"=")
        fields[name.decode(errors="replace")] = value
        position += 4 + size
    return fields


def decompress(data: bytes, compression: str, size: int) -> bytes:
    try:
        if compression in ("", "none"):
            raw = bytes(data)
        elif compression == "bz2":
            raw = bz2.decompress(data)
        elif compression == "lz4":
            raw = lz4_decompress(data)
        elif compression == "zstd":
            raw = zstd.decompress(data)
        else:
            raise DamagedBagError(f"unknown compression {compression!r}")
    except (OSError, ValueError, RuntimeError, zstd.ZstdError) as error:
        raise DamagedBagError(f"a {compression} chunk that does not decompress ({error})") from error
    if len(raw) != size:
        raise DamagedBagError(f"a chunk of {len(raw)} bytes, its header says {size}")
    return raw
