"""Read (and, on the export side, embed) the lrdif `ModelMetadata` of an exported model artifact.

Where the record lives, per format (always `ModelMetadata.to_json()` under `METADATA_KEY`):

| format | where | read here with |
|---|---|---|
| `.onnx` | `ModelProto.metadata_props` entry `lrdif_metadata` | a small protobuf wire parse (no onnx package) |
| `.tflite` | a zip appended after the flatbuffer holding `metadata.json` (the layout TFLite's metadata populator uses for associated files; LiteRT ignores trailing bytes) | `zipfile` |
| `.pte` | sidecar `<file>.pte.json`: `{"lrdif_metadata": {...}, "artifact_sha256": "<sha256 of the .pte>"}`; the hash binds the sidecar to its program | `json` + `hashlib` |
| `.mlpackage` / `.mlmodel` | `Model.description.metadata.userDefined["lrdif_metadata"]` of the root spec named by `Manifest.json` | a small protobuf wire parse (no coremltools) |

This module is part of the torch-free SDK (standard library + lrdif.sdk at import time).
`embed_metadata` (export side) imports `onnx` / `coremltools` lazily inside the function.

Every failure raises `MetadataError` naming the file.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Iterator, Union

from lrdif.sdk.assets import atomic_write_bytes
from lrdif.sdk.metadata import METADATA_KEY, MetadataError, ModelMetadata

__all__ = ["read_metadata", "embed_metadata", "detect_format", "sidecar_path", "MetadataError",
           "TFLITE_METADATA_MEMBER", "FORMATS"]

PathOrBytes = Union[str, os.PathLike, bytes, bytearray, memoryview]

TFLITE_METADATA_MEMBER = "metadata.json"
FORMATS = ("onnx", "tflite", "executorch", "coreml")
_SUFFIX_FORMAT = {".onnx": "onnx", ".tflite": "tflite", ".pte": "executorch",
                  ".mlpackage": "coreml", ".mlmodel": "coreml"}


# ----------------------------------------------------------------------------- protobuf wire format

def _varint(buf: memoryview, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= end:
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(buf: memoryview, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int, object]]:
    """Yield (field number, wire type, value) of one protobuf message; length-delimited values are
    returned as (start, end) offsets into `buf` (not copied)."""
    pos, end = start, len(buf) if end is None else end
    while pos < end:
        key, pos = _varint(buf, pos, end)
        num, wt = key >> 3, key & 7
        if num == 0:
            raise ValueError("field number 0")
        if wt == 0:
            val, pos = _varint(buf, pos, end)
        elif wt == 1:
            val, pos = None, pos + 8
        elif wt == 5:
            val, pos = None, pos + 4
        elif wt == 2:
            n, pos = _varint(buf, pos, end)
            val, pos = (pos, pos + n), pos + n
        else:
            raise ValueError(f"unsupported wire type {wt}")
        if pos > end:
            raise ValueError("truncated message")
        yield num, wt, val


def _sub(buf: memoryview, start: int, end: int, num: int) -> Iterator[tuple[int, int]]:
    for n, wt, val in _fields(buf, start, end):
        if n == num and wt == 2:
            yield val  # type: ignore[misc]


def _string_map(buf: memoryview, start: int, end: int, num: int) -> dict[str, str]:
    """Entries {key = 1, value = 2} of the repeated field `num` (ONNX StringStringEntryProto and
    protobuf map<string, string> share this layout)."""
    out: dict[str, str] = {}
    for s, e in _sub(buf, start, end, num):
        k = v = b""
        for n, wt, val in _fields(buf, s, e):
            if wt == 2 and n in (1, 2):
                data = bytes(buf[val[0]:val[1]])  # type: ignore[index]
                if n == 1:
                    k = data
                else:
                    v = data
        out[k.decode("utf-8", "replace")] = v.decode("utf-8", "replace")
    return out


# ----------------------------------------------------------------------------- per format readers

def _onnx_props(data: bytes) -> dict[str, str]:
    buf = memoryview(data)
    # ModelProto: ir_version = 1 (varint), graph = 7, metadata_props = 14
    fields = list(_fields(buf))
    if not fields or not any(n == 7 and wt == 2 for n, wt, _ in fields):
        raise ValueError("no ONNX graph in the protobuf")
    return _string_map(buf, 0, len(buf), 14)


def _coreml_user_defined(data: bytes) -> dict[str, str]:
    buf = memoryview(data)
    # Model: specificationVersion = 1, description = 2; ModelDescription.metadata = 100;
    # Metadata.userDefined = 100 (map<string, string>)
    out: dict[str, str] = {}
    for ds, de in _sub(buf, 0, len(buf), 2):
        for ms, me in _sub(buf, ds, de, 100):
            out.update(_string_map(buf, ms, me, 100))
    return out


def _mlpackage_spec(path: Path) -> Path:
    manifest = path / "Manifest.json"
    try:
        m = json.loads(manifest.read_text())
        root = m["rootModelIdentifier"]
        rel = m["itemInfoEntries"][root]["path"]
    except FileNotFoundError:
        raise MetadataError(f"{path}: not an .mlpackage (no Manifest.json)") from None
    except (ValueError, KeyError, TypeError) as e:
        raise MetadataError(f"{path}: malformed Manifest.json ({type(e).__name__}: {e})") from None
    spec = path / "Data" / rel
    if not spec.is_file():
        raise MetadataError(f"{path}: the root model spec {spec.relative_to(path)} named by Manifest.json is missing")
    return spec


# what zipfile raises on corrupt archives besides BadZipFile (found by tests/test_reliability_props.py)
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError,
               OverflowError)


def _tflite_zip(data: bytes) -> zipfile.ZipFile | None:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except _ZIP_ERRORS:
        return None


def _tflite_flatbuffer_end(data: bytes) -> int:
    """Length of the flatbuffer proper (the appended zip removed, if any)."""
    z = _tflite_zip(data)
    if z is None or not z.infolist():
        return len(data)
    return min(i.header_offset for i in z.infolist())


def tflite_flatbuffer(data: bytes) -> bytes:
    """The flatbuffer of a `.tflite` file's bytes, without the appended metadata zip."""
    return data[:_tflite_flatbuffer_end(data)]


def sidecar_path(pte: str | os.PathLike) -> Path:
    """The metadata sidecar of an ExecuTorch program: `model.pte` -> `model.pte.json`."""
    p = Path(pte)
    return p.with_name(p.name + ".json")


def detect_format(path_or_bytes: PathOrBytes) -> str:
    """'onnx' | 'tflite' | 'executorch' | 'coreml' from the suffix (paths) or the magic (bytes)."""
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        head = bytes(path_or_bytes[:8])
        if head[4:8] == b"TFL3":
            return "tflite"
        if head[4:6] == b"ET":
            return "executorch"
        return "onnx"
    p = Path(path_or_bytes)
    fmt = _SUFFIX_FORMAT.get(p.suffix.lower())
    if fmt is None:
        raise MetadataError(f"{p}: unknown model format (expected one of {', '.join(sorted(_SUFFIX_FORMAT))})")
    return fmt


def _parse(text: str, where: str, fmt: str) -> ModelMetadata:
    try:
        md = ModelMetadata.from_json(text)
    except MetadataError as e:
        raise MetadataError(f"{where}: {e}") from None
    if md.target and md.target != fmt:
        raise MetadataError(f"{where}: metadata says target {md.target!r} but the file is {fmt}")
    return md


def read_metadata(path_or_bytes: PathOrBytes, format: str | None = None) -> ModelMetadata:
    """The `ModelMetadata` embedded in an exported artifact (path, or the bytes of a single-file
    .onnx / .tflite). Raises `MetadataError` naming the file when it is missing or malformed."""
    is_bytes = isinstance(path_or_bytes, (bytes, bytearray, memoryview))
    fmt = format or detect_format(path_or_bytes)
    if fmt not in FORMATS:
        raise MetadataError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    where = "<bytes>" if is_bytes else str(path_or_bytes)
    if fmt == "coreml":
        if is_bytes:
            raise MetadataError("CoreML metadata is read from an .mlpackage directory or .mlmodel path, not bytes")
        p = Path(path_or_bytes)  # type: ignore[arg-type]
        if not p.exists():
            raise MetadataError(f"{p}: no such model")
        spec = _mlpackage_spec(p) if p.is_dir() else p
        try:
            props = _coreml_user_defined(spec.read_bytes())
        except ValueError as e:
            raise MetadataError(f"{where}: corrupt CoreML spec ({e})") from None
        if METADATA_KEY not in props:
            raise MetadataError(f"{where}: no '{METADATA_KEY}' in the CoreML user_defined_metadata: "
                                f"not an lrdif export (or exported without metadata)")
        return _parse(props[METADATA_KEY], where, fmt)

    if is_bytes:
        data = bytes(path_or_bytes)  # type: ignore[arg-type]
    else:
        p = Path(path_or_bytes)  # type: ignore[arg-type]
        try:
            data = p.read_bytes()
        except FileNotFoundError:
            raise MetadataError(f"{p}: no such model") from None
        except IsADirectoryError:
            raise MetadataError(f"{p}: is a directory, expected a {fmt} file") from None

    if fmt == "onnx":
        try:
            props = _onnx_props(data)
        except ValueError as e:
            raise MetadataError(f"{where}: not a readable ONNX model ({e})") from None
        if METADATA_KEY not in props:
            raise MetadataError(f"{where}: no '{METADATA_KEY}' in the ONNX metadata_props: not an lrdif "
                                f"export (or exported without metadata)")
        return _parse(props[METADATA_KEY], where, fmt)

    if fmt == "tflite":
        if data[4:8] != b"TFL3":
            raise MetadataError(f"{where}: not a TFLite flatbuffer (no TFL3 identifier)")
        z = _tflite_zip(data)
        if z is None or TFLITE_METADATA_MEMBER not in z.namelist():
            raise MetadataError(f"{where}: no appended '{TFLITE_METADATA_MEMBER}' holding '{METADATA_KEY}': "
                                f"not an lrdif export (or exported without metadata)")
        try:
            doc = json.loads(z.read(TFLITE_METADATA_MEMBER))
            text = json.dumps(doc[METADATA_KEY])
        except (KeyError, TypeError, *_ZIP_ERRORS) as e:
            raise MetadataError(f"{where}: malformed {TFLITE_METADATA_MEMBER} ({type(e).__name__}: {e})") from None
        return _parse(text, where, fmt)

    # executorch
    if is_bytes:
        raise MetadataError("ExecuTorch metadata lives in the `<file>.pte.json` sidecar; pass the .pte path")
    if data[4:6] != b"ET":
        raise MetadataError(f"{where}: not an ExecuTorch program (no ET identifier)")
    side = sidecar_path(p)
    try:
        doc = json.loads(side.read_text())
    except FileNotFoundError:
        raise MetadataError(f"{where}: metadata sidecar {side.name} is missing (copy it with the .pte)") from None
    except ValueError as e:
        raise MetadataError(f"{side}: metadata sidecar is not valid JSON ({e})") from None
    if not isinstance(doc, dict) or METADATA_KEY not in doc or "artifact_sha256" not in doc:
        raise MetadataError(f"{side}: sidecar lacks '{METADATA_KEY}' / 'artifact_sha256'")
    digest = hashlib.sha256(data).hexdigest()
    if doc["artifact_sha256"] != digest:
        raise MetadataError(f"{side}: sidecar belongs to a different program (artifact_sha256 "
                            f"{str(doc['artifact_sha256'])[:12]}... != sha256 of {p.name} {digest[:12]}...): "
                            f"the .pte was modified or the files were mixed up")
    return _parse(json.dumps(doc[METADATA_KEY]), where, fmt)


# ----------------------------------------------------------------------------- embedding (export side)

def embed_metadata(path: str | os.PathLike, metadata: ModelMetadata, format: str | None = None) -> Path:
    """Write `metadata` into the artifact at `path` (in place, atomically) and return the path
    (for .pte: the sidecar written beside it). Export side: imports onnx / coremltools lazily."""
    p = Path(path)
    fmt = format or detect_format(p)
    if metadata.target and metadata.target != fmt:
        raise MetadataError(f"{p}: metadata target {metadata.target!r} does not match the {fmt} file")
    text = metadata.to_json()
    if fmt == "onnx":
        import onnx

        model = onnx.load(str(p), load_external_data=False)
        keep = [e for e in model.metadata_props if e.key != METADATA_KEY]
        del model.metadata_props[:]
        model.metadata_props.extend(keep)
        model.metadata_props.add(key=METADATA_KEY, value=text)
        atomic_write_bytes(p, model.SerializeToString())
    elif fmt == "tflite":
        data = p.read_bytes()
        if data[4:8] != b"TFL3":
            raise MetadataError(f"{p}: not a TFLite flatbuffer (no TFL3 identifier)")
        old = _tflite_zip(data)
        core = tflite_flatbuffer(data)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
            if old is not None:  # keep other associated files (e.g. from the metadata populator)
                for name in old.namelist():
                    if name != TFLITE_METADATA_MEMBER:
                        z.writestr(name, old.read(name))
            z.writestr(TFLITE_METADATA_MEMBER, json.dumps({METADATA_KEY: metadata.to_dict()}, sort_keys=True))
        atomic_write_bytes(p, core + buf.getvalue())
    elif fmt == "executorch":
        digest = hashlib.sha256(p.read_bytes()).hexdigest()
        side = sidecar_path(p)
        doc = {METADATA_KEY: metadata.to_dict(), "artifact_sha256": digest}
        atomic_write_bytes(side, json.dumps(doc, indent=1, sort_keys=True).encode())
        return side
    elif fmt == "coreml":
        import coremltools as ct

        model = ct.models.MLModel(str(p), skip_model_load=True)
        model.user_defined_metadata[METADATA_KEY] = text
        tmp = Path(tempfile.mkdtemp(prefix=f".{p.name}.", dir=p.parent))
        try:
            out = tmp / p.name
            model.save(str(out))
            old = p.with_name(f".{p.name}.old")
            os.replace(p, old) if p.is_file() else p.rename(old)
            os.replace(out, p)
            shutil.rmtree(old) if old.is_dir() else old.unlink()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    else:
        raise MetadataError(f"unknown format {fmt!r}")
    return p
