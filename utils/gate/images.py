"""Images through the gate: a path or a data URL becomes checked bytes whose type comes from the bytes.

The file name and a data URL's declared type are the caller's word; the magic bytes are the file's.
Sizes are checked before reading: from fstat for a path, from the base64 length for a data URL.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass

from utils.gate.errors import FileTooLargeError, GateError, InvalidInputError, NotAnImageError
from utils.gate.opener import read_checked
from utils.gate.security import PathPolicy

MIB = 1024 * 1024
# Without a model limit (clink hands images to a CLI) an image may still not be larger than this.
DEFAULT_IMAGE_MB = 20.0
_MAGIC_BYTES = 12
_SMALLER = "Pass a smaller image (resize or compress it)."


@dataclass(frozen=True)
class GatedImage:
    """An image's checked bytes and the MIME type its content shows."""

    mime_type: str
    data: bytes


def image_limit_bytes(limit_mb: float | None) -> int:
    """A model's image limit in bytes; catalogues give it in MB, counted as MiB everywhere in Quorum."""
    return int((limit_mb or DEFAULT_IMAGE_MB) * MIB)


def sniff_image(data: bytes) -> str | None:
    """The MIME type of PNG, JPEG, GIF or WebP bytes; None for anything else."""
    head = data[:_MAGIC_BYTES]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def checked_images(items: Sequence[str], policy: PathPolicy, limit_mb: float | None) -> list[GatedImage]:
    """The `images` argument, each entry checked; a refusal names the argument it came from."""
    loaded = []
    for item in items:
        try:
            loaded.append(load_image(item, policy, limit_mb))
        except GateError as exc:
            raise exc.about("images") from exc
    return loaded


def load_image(item: str, policy: PathPolicy, limit_mb: float | None) -> GatedImage:
    """One `images` entry (absolute path or data URL), checked; raises a GateError naming what to do."""
    cap = image_limit_bytes(limit_mb)
    if item.startswith("data:"):
        data = _decode_data_url(item, cap)
        where = "The image data URL"
    else:
        path = policy.check(item)
        limit = f"the image limit of {cap / MIB:g} MiB"
        data = read_checked(item, path, policy, cap, cap_name=limit, advice=_SMALLER).data
        where = f"{item!r}"
    mime = sniff_image(data)
    if mime is None:
        raise NotAnImageError(
            f"{where} is not a PNG, JPEG, GIF or WebP image (its content says otherwise, whatever its name or "
            "declared type). Pass image files or data URLs only; put text in the prompt or in absolute_file_paths."
        )
    return GatedImage(mime_type=mime, data=data)


def data_url_size(item: str) -> int:
    """The decoded size of a base64 data URL, from its length alone (0 when it is not base64)."""
    header, _, payload = item.partition(",")
    if ";base64" not in header:
        return 0
    payload = payload.strip()
    return len(payload) * 3 // 4 - payload[-2:].count("=")


def describe_data_url(item: str) -> str:
    """A short stand-in for a data URL in stored records: its declared type and size, never the bytes."""
    header = item.partition(",")[0][:80]
    return f"{header},<{data_url_size(item) or len(item):,} bytes not stored>"


def _decode_data_url(item: str, cap: int) -> bytes:
    header, comma, payload = item.partition(",")
    if not comma or ";base64" not in header:
        raise InvalidInputError(
            "An image data URL must look like 'data:image/png;base64,<base64 bytes>'. Re-encode it, or pass the "
            "image's absolute path."
        )
    size = data_url_size(item)
    if size > cap:
        raise FileTooLargeError(
            f"The image data URL holds about {size:,} bytes, over the image limit of {cap / MIB:g} MiB; it was not "
            f"decoded. {_SMALLER}", size=size, limit=cap,
        )
    try:
        return base64.b64decode(payload.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInputError("An image data URL is not valid base64; re-encode it.") from exc

