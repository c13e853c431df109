"""Descriptor sources: merging (imports first, duplicates, conflicts, missing imports), reading a
FileDescriptorSet from disk with precise errors, and the private pool behind the gateway's reflection."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2

from gateway.config import Settings
from gateway.descriptors import (
    EMBEDDED,
    build_pool,
    embedded_descriptor_set,
    load_descriptors,
    merge,
    read_descriptor_set,
)
from gateway.errors import ConfigError

FileProto = descriptor_pb2.FileDescriptorProto


def proto_file(
    name: str, deps: Sequence[str] = (), message: str = "M", package: str = "acme.v1"
) -> FileProto:
    f = FileProto(name=name, package=package, syntax="proto3", dependency=deps)
    f.message_type.add(name=message)
    return f


def names(fds: descriptor_pb2.FileDescriptorSet) -> list[str]:
    return [f.name for f in fds.file]


def assert_imports_first(fds: descriptor_pb2.FileDescriptorSet) -> None:
    position = {f.name: i for i, f in enumerate(fds.file)}
    for i, f in enumerate(fds.file):
        for dep in f.dependency:
            assert position[dep] < i, f"{f.name} comes before its import {dep}"


# --- merge ------------------------------------------------------------------------------------------


A = proto_file("a.proto", message="A")
B = proto_file("b.proto", ["a.proto"], message="B")
C = proto_file("c.proto", ["b.proto", "a.proto"], message="C")


@pytest.mark.parametrize(
    ("sources", "expected"),
    [
        ([("one", [A, B, C])], ["a.proto", "b.proto", "c.proto"]),
        ([("one", [C, B, A])], ["a.proto", "b.proto", "c.proto"]),
        ([("one", [B]), ("two", [A])], ["a.proto", "b.proto"]),
        ([("one", [C]), ("two", [B]), ("three", [A])], ["a.proto", "b.proto", "c.proto"]),
        ([("one", [A, proto_file("z.proto", message="Z"), B])], ["a.proto", "z.proto", "b.proto"]),
    ],
    ids=[
        "already ordered",
        "reversed",
        "dependant in an earlier source",
        "chain across sources",
        "keeps order",
    ],
)
def test_merge_puts_imports_before_dependants(
    sources: list[tuple[str, list[FileProto]]], expected: list[str]
) -> None:
    merged = merge(sources)
    assert names(merged) == expected
    assert_imports_first(merged)


def test_merge_of_the_embedded_set_with_itself_keeps_each_file_once() -> None:
    embedded = embedded_descriptor_set()
    merged = merge([(EMBEDDED, embedded.file), ("again", embedded.file)])
    assert sorted(names(merged)) == sorted(names(embedded))
    assert len(set(names(merged))) == len(merged.file)
    assert_imports_first(merged)


def test_the_same_file_twice_is_kept_once() -> None:
    twin = FileProto()
    twin.CopyFrom(A)
    assert names(merge([("one", [A]), ("two", [twin])])) == ["a.proto"]


def test_source_info_alone_is_not_a_difference() -> None:
    commented = FileProto()
    commented.CopyFrom(A)
    commented.source_code_info.location.add(path=[4, 0], span=[1, 0, 10], leading_comments=" A thing.\n")
    merged = merge([("one", [A]), ("two", [commented])])
    assert names(merged) == ["a.proto"]


def test_the_first_definition_wins() -> None:
    commented = FileProto()
    commented.CopyFrom(A)
    commented.source_code_info.location.add(path=[4, 0], span=[1, 0, 10])
    merged = merge([("one", [commented]), ("two", [A])])
    assert merged.file[0].HasField("source_code_info")


def test_the_same_file_name_with_different_content_names_both_origins() -> None:
    other = proto_file("a.proto", message="Different")
    with pytest.raises(ConfigError) as info:
        merge([("file one.binpb", [A]), ("reflection on h:1", [other])])
    assert info.value.message == "descriptors: a.proto differs between file one.binpb and reflection on h:1"


def test_a_missing_import_is_named() -> None:
    with pytest.raises(ConfigError) as info:
        merge([("file x.binpb", [B, C])])
    assert info.value.message == "descriptors: import a.proto is not in any descriptor source"


def test_every_merge_problem_is_reported_at_once() -> None:
    other = proto_file("b.proto", ["a.proto"], message="Other")
    with pytest.raises(ConfigError) as info:
        merge([("one", [B]), ("two", [other]), ("three", [proto_file("d.proto", ["missing/e.proto"])])])
    message = info.value.message
    assert "b.proto differs between one and two" in message
    assert "import a.proto is not in any descriptor source" in message
    assert "import missing/e.proto is not in any descriptor source" in message


def test_merging_nothing_gives_an_empty_set() -> None:
    assert names(merge([])) == []


# --- reading a set from disk ------------------------------------------------------------------------


def test_read_round_trips_a_written_set(tmp_path: Path) -> None:
    path = tmp_path / "tta.binpb"
    embedded = embedded_descriptor_set()
    path.write_bytes(embedded.SerializeToString())
    assert read_descriptor_set(path) == embedded


def test_read_a_missing_file_names_the_path_and_reason(tmp_path: Path) -> None:
    path = tmp_path / "nope.binpb"
    with pytest.raises(ConfigError) as info:
        read_descriptor_set(path)
    assert info.value.message == f"descriptors: file {path}: cannot read: No such file or directory"


def test_read_a_directory_names_the_path_and_reason(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        read_descriptor_set(tmp_path)
    assert info.value.message == f"descriptors: file {tmp_path}: cannot read: Is a directory"


@pytest.mark.parametrize(
    "data",
    [
        b"grpc:\n  port: 50051\n",  # a YAML config named by mistake
        b'{"file": []}',
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        b"\x0a\x05ab",  # a truncated set: field 1 promises 5 bytes, holds 2
    ],
    ids=["yaml", "json", "png", "truncated"],
)
def test_read_a_non_descriptor_file_names_the_path_and_reason(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "x.binpb"
    path.write_bytes(data)
    with pytest.raises(ConfigError) as info:
        read_descriptor_set(path)
    assert info.value.message.startswith(f"descriptors: file {path}: not a binary FileDescriptorSet (")


def test_read_an_empty_set_names_the_path_and_reason(tmp_path: Path) -> None:
    path = tmp_path / "empty.binpb"
    path.write_bytes(descriptor_pb2.FileDescriptorSet().SerializeToString())
    assert path.stat().st_size == 0
    with pytest.raises(ConfigError) as info:
        read_descriptor_set(path)
    assert info.value.message == f"descriptors: file {path}: holds no files"


# --- loading configured sources ---------------------------------------------------------------------


async def test_load_uses_the_embedded_set_when_no_source_is_configured() -> None:
    assert await load_descriptors(Settings()) == merge([(EMBEDDED, embedded_descriptor_set().file)])


async def test_load_reads_a_configured_file_instead_of_the_embedded_set(tmp_path: Path) -> None:
    path = tmp_path / "acme.binpb"
    path.write_bytes(descriptor_pb2.FileDescriptorSet(file=[B, A]).SerializeToString())
    loaded = await load_descriptors(Settings.from_mapping({"descriptors": [{"file": str(path)}]}))
    assert names(loaded) == ["a.proto", "b.proto"]


async def test_load_reports_a_conflict_between_two_files_naming_both(tmp_path: Path) -> None:
    one, two = tmp_path / "one.binpb", tmp_path / "two.binpb"
    one.write_bytes(descriptor_pb2.FileDescriptorSet(file=[A]).SerializeToString())
    two.write_bytes(
        descriptor_pb2.FileDescriptorSet(file=[proto_file("a.proto", message="Z")]).SerializeToString()
    )
    settings = Settings.from_mapping({"descriptors": [{"file": str(one)}, {"file": str(two)}]})
    with pytest.raises(ConfigError) as info:
        await load_descriptors(settings)
    assert info.value.message == f"descriptors: a.proto differs between file {one} and file {two}"


# --- the private pool -------------------------------------------------------------------------------


def test_build_pool_finds_tta_services() -> None:
    pool = build_pool(embedded_descriptor_set())
    player = pool.FindServiceByName("tta.v1.PlayerService")
    assert player.file.name == "tta/v1/player.proto"
    get_player = player.methods_by_name["GetPlayer"]
    assert get_player.input_type.full_name == "tta.v1.GetPlayerRequest"
    assert pool.FindServiceByName("tta.v2.PlayerService").full_name == "tta.v2.PlayerService"
    chat = pool.FindServiceByName("tta.v1.ChatService").methods_by_name["Chat"]
    assert chat.client_streaming
    assert chat.server_streaming


def test_build_pool_is_private_to_its_set() -> None:
    pool = build_pool(merge([("one", [A, B])]))
    assert pool.FindMessageTypeByName("acme.v1.B").file.name == "b.proto"
    with pytest.raises(KeyError):
        pool.FindServiceByName("tta.v1.PlayerService")
