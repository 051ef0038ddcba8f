"""Photos of a report: strictly decoded, re-encoded to JPEG without any metadata (GPS, device), size-limited."""

from __future__ import annotations

import io
import warnings

import msgspec
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PHOTOS = 3
MAX_BYTES = 8 * 1024 * 1024
#: larger sides are scaled down; also bounds the memory a decoded upload may take
MAX_SIDE = 2048
MAX_PIXELS = 40_000_000
ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})


class Photo(msgspec.Struct, frozen=True):
    content: bytes
    width: int
    height: int


class PhotoRejected(ValueError):
    """The upload is not a photo we accept; ``reason`` says which rule it broke."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def reencode(data: bytes) -> Photo:
    """A clean JPEG of the upload: orientation applied, pixels only, no EXIF/XMP/ICC or comments."""
    if len(data) > MAX_BYTES:
        raise PhotoRejected("too_large")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                if probe.format not in ACCEPTED_FORMATS:
                    raise PhotoRejected("format")
                if probe.width * probe.height > MAX_PIXELS:
                    raise PhotoRejected("too_large")
                probe.verify()
            with Image.open(io.BytesIO(data)) as image:
                # A JPEG decodes straight at the scale it is shown at (at least MAX_SIDE): far less work.
                image.draft("RGB", (MAX_SIDE, MAX_SIDE))
                image.load()
                upright = ImageOps.exif_transpose(image)
                pixels = upright.convert("RGB")
    except PhotoRejected:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombWarning) as exc:
        raise PhotoRejected("format") from exc
    pixels.thumbnail((MAX_SIDE, MAX_SIDE))
    # A fresh image holds the pixels only: nothing of the original's info (EXIF, XMP, ICC, comments) follows.
    clean = Image.new("RGB", pixels.size)
    clean.paste(pixels)
    out = io.BytesIO()
    clean.save(out, format="JPEG", quality=85, optimize=True)
    return Photo(content=out.getvalue(), width=clean.width, height=clean.height)
