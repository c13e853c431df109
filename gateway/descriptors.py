"""Where the contracts come from: FileDescriptorSet files, the embedded TTA set, or upstream reflection.

Every source yields ``FileDescriptorProto``s; they are merged into one ``FileDescriptorSet`` (first
definition of a file name wins; a *different* definition of the same file is an error, because two
upstreams disagreeing about a contract is exactly what start-up must catch) and into a private
``DescriptorPool`` used by the gateway's own reflection service.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Sequence
from importlib import resources
from pathlib import Path

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.message import DecodeError
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from gateway.config import FileDescriptorSource, ReflectionDescriptorSource, Settings
from gateway.errors import ConfigError

EMBEDDED = "embedded TTA contracts (tta/descriptors.binpb)"


def read_descriptor_set(path: Path) -> descriptor_pb2.FileDescriptorSet:
    """Read a binary FileDescriptorSet (``protoc --descriptor_set_out`` / ``buf build -o x.binpb``)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"descriptors: file {path}: cannot read: {exc.strerror or exc}") from exc
    return _parse_set(data, f"file {path}")


def embedded_descriptor_set() -> descriptor_pb2.FileDescriptorSet:
    data = resources.files("tta").joinpath("descriptors.binpb").read_bytes()
    return _parse_set(data, EMBEDDED)


def _parse_set(data: bytes, origin: str) -> descriptor_pb2.FileDescriptorSet:
    fds = descriptor_pb2.FileDescriptorSet()
    try:
        fds.ParseFromString(data)
    except DecodeError as exc:
        raise ConfigError(f"descriptors: {origin}: not a binary FileDescriptorSet ({exc})") from exc
    if not fds.file:
        raise ConfigError(f"descriptors: {origin}: holds no files")
    return fds


async def _reflect(target: str, wait_s: float) -> list[descriptor_pb2.FileDescriptorProto]:
    """Every file (with its imports) describing the services an upstream lists through reflection."""
    files: dict[str, descriptor_pb2.FileDescriptorProto] = {}
    async with grpc.aio.insecure_channel(target) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        queue: asyncio.Queue[reflection_pb2.ServerReflectionRequest | None] = asyncio.Queue()

        async def requests() -> AsyncIterator[reflection_pb2.ServerReflectionRequest]:
            while (item := await queue.get()) is not None:
                yield item

        call = stub.ServerReflectionInfo(requests(), timeout=wait_s)

        async def ask(req: reflection_pb2.ServerReflectionRequest) -> reflection_pb2.ServerReflectionResponse:
            await queue.put(req)
            resp: reflection_pb2.ServerReflectionResponse = await call.read()
            if resp.HasField("error_response"):
                raise ConfigError(f"descriptors: reflection on {target}: {resp.error_response.error_message}")
            return resp

        def take(resp: reflection_pb2.ServerReflectionResponse) -> None:
            for raw in resp.file_descriptor_response.file_descriptor_proto:
                fdp = descriptor_pb2.FileDescriptorProto.FromString(raw)
                files.setdefault(fdp.name, fdp)

        try:
            listed = await ask(reflection_pb2.ServerReflectionRequest(list_services=""))
            for svc in listed.list_services_response.service:
                if svc.name.startswith("grpc."):
                    continue
                take(await ask(reflection_pb2.ServerReflectionRequest(file_containing_symbol=svc.name)))
            missing = _missing_imports(files.values())
            while missing:
                for name in missing:
                    take(await ask(reflection_pb2.ServerReflectionRequest(file_by_filename=name)))
                missing = _missing_imports(files.values())
        except grpc.aio.AioRpcError as exc:
            raise ConfigError(
                f"descriptors: reflection on {target}: {exc.code().name}: {exc.details()}"
            ) from exc
        finally:
            await queue.put(None)
            call.cancel()
    return list(files.values())


async def _reflect_with_retry(
    target: str, wait_s: float, attempts: int = 3
) -> list[descriptor_pb2.FileDescriptorProto]:
    """grpc core sometimes reports a refused reflection stream as INTERNAL (grpc/grpc#36066);
    ask again so the operator hears the real reason (usually UNIMPLEMENTED)."""
    for attempt in range(attempts):
        try:
            return await _reflect(target, wait_s)
        except ConfigError as exc:
            if ": INTERNAL:" not in exc.message or attempt + 1 == attempts:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _missing_imports(files: Iterable[descriptor_pb2.FileDescriptorProto]) -> list[str]:
    have = {f.name for f in files}
    return sorted({d for f in files for d in f.dependency if d not in have})


def merge(
    sets: Iterable[tuple[str, Iterable[descriptor_pb2.FileDescriptorProto]]],
) -> descriptor_pb2.FileDescriptorSet:
    """Merge sources in order into one set, files sorted so that imports come first."""
    by_name: dict[str, tuple[str, descriptor_pb2.FileDescriptorProto]] = {}
    problems: list[str] = []
    for origin, files in sets:
        for f in files:
            if f.name not in by_name:
                by_name[f.name] = (origin, f)
                continue
            first_origin, first = by_name[f.name]
            if _strip_source_info(first) != _strip_source_info(f) and not f.name.startswith("google/"):
                problems.append(f"{f.name} differs between {first_origin} and {origin}")
    missing = sorted({d for _, f in by_name.values() for d in f.dependency if d not in by_name})
    problems += [f"import {name} is not in any descriptor source" for name in missing]
    if problems:
        raise ConfigError("descriptors: " + "; ".join(problems))
    out = descriptor_pb2.FileDescriptorSet()
    done: set[str] = set()

    def visit(name: str) -> None:
        if name in done:
            return
        done.add(name)
        f = by_name[name][1]
        for dep in f.dependency:
            visit(dep)
        out.file.append(f)

    for name in by_name:
        visit(name)
    return out


def _strip_source_info(f: descriptor_pb2.FileDescriptorProto) -> bytes:
    copy = descriptor_pb2.FileDescriptorProto()
    copy.CopyFrom(f)
    copy.ClearField("source_code_info")
    return copy.SerializeToString(deterministic=True)


async def load_descriptors(
    settings: Settings, reflect_timeout: float = 5.0
) -> descriptor_pb2.FileDescriptorSet:
    """Load every configured source (the embedded TTA set when none is configured) and merge them."""
    sources: list[tuple[str, Sequence[descriptor_pb2.FileDescriptorProto]]] = []
    if not settings.descriptors:
        sources.append((EMBEDDED, embedded_descriptor_set().file))
    for src in settings.descriptors:
        if isinstance(src, FileDescriptorSource):
            sources.append((f"file {src.file}", read_descriptor_set(Path(src.file)).file))
        elif isinstance(src, ReflectionDescriptorSource):
            targets = [u.targets[0] for u in settings.upstreams]
            found = await asyncio.gather(*(_reflect_with_retry(t, reflect_timeout) for t in targets))
            sources += [(f"reflection on {t}", files) for t, files in zip(targets, found, strict=True)]
    merged = merge(sources)
    build_pool(merged)  # every type must resolve now, not when reflection is first asked
    return merged


def build_pool(fds: descriptor_pb2.FileDescriptorSet) -> descriptor_pool.DescriptorPool:
    """A private pool holding exactly these files (imports first), for the gateway's reflection."""
    pool = descriptor_pool.DescriptorPool()
    for f in fds.file:
        try:
            pool.Add(f)
        except (TypeError, KeyError, ValueError) as exc:
            raise ConfigError(f"descriptors: {f.name}: {exc}") from exc
    return pool
