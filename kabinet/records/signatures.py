"""Signatures drawn on a screen (a tablet at the front desk): what the browser's canvas sends, checked and cleaned.

The page sends the canvas as a PNG data URL. We accept only a whole PNG of sensible size that holds some ink,
crop it to the drawn strokes (with a small margin) and encode it again, so what is stored and printed is a plain
picture with no metadata, whatever the client sent.
"""

from __future__ import annotations

import base64
import binascii
import io
import warnings

from django.utils.translation import gettext as _

from kabinet.core.exceptions import Invalid
from kabinet.records.files import _complete

DATA_URL_PREFIX = "data:image/png;base64,"
MAX_BYTES = 512 * 1024  # a drawn signature is a few kilobytes; a canvas of a large tablet at most ~200 KB
MAX_SIDE = 4000
MIN_INK = 12  # the strokes must span at least this many pixels one way: a tap is not a signature
MARGIN = 8


def _refused(message: str) -> Invalid:
    return Invalid(errors={"signature": [message]})


def decode_data_url(value: str) -> bytes:
    """The PNG bytes of a `data:image/png;base64,…` URL, or a clear error."""
    value = (value or "").strip()
    if not value:
        raise _refused(_("Sign in the box first."))
    if not value.startswith(DATA_URL_PREFIX):
        raise _refused(_("The signature could not be read. Clear the box and sign again."))
    encoded = value[len(DATA_URL_PREFIX) :]
    if len(encoded) > MAX_BYTES * 4 // 3 + 4:
        raise _refused(_("The signature picture is too large. Clear the box and sign again."))
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _refused(_("The signature could not be read. Clear the box and sign again.")) from exc


def clean_signature(data: bytes) -> bytes:
    """Check a drawn signature (PNG) and return it cropped to the strokes and encoded again.

    Refused: not a whole PNG, too large, blank or a mere dot."""
    from PIL import Image

    unreadable = _refused(_("The signature could not be read. Clear the box and sign again."))
    if len(data) > MAX_BYTES:
        raise _refused(_("The signature picture is too large. Clear the box and sign again."))
    if not data.startswith(b"\x89PNG\r\n\x1a\n") or not _complete(data, "png"):
        raise unreadable
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=["PNG"])
            if max(image.size) > MAX_SIDE:
                raise _refused(_("The signature picture is too large. Clear the box and sign again."))
            image.load()
    except Invalid:
        raise
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError… for damaged data
        raise unreadable from exc
    rgba = image.convert("RGBA")
    # Ink: pixels that are not transparent and not (near) white, whatever background the canvas had.
    ink = Image.eval(rgba.getchannel("A"), lambda a: 255 if a > 32 else 0)
    dark = Image.eval(rgba.convert("L"), lambda v: 255 if v < 200 else 0)
    mask = Image.composite(dark, Image.new("L", rgba.size, 0), ink)
    box = mask.getbbox()
    if box is None or max(box[2] - box[0], box[3] - box[1]) < MIN_INK:
        raise _refused(_("Sign in the box first."))
    left, top, right, bottom = box
    crop = (
        max(0, left - MARGIN),
        max(0, top - MARGIN),
        min(rgba.width, right + MARGIN),
        min(rgba.height, bottom + MARGIN),
    )
    # Strokes in black on a transparent ground, whatever colours and background were drawn with.
    alpha = mask.crop(crop)
    out = Image.new("RGBA", alpha.size, (0, 0, 0, 0))
    out.putalpha(alpha)
    buffer = io.BytesIO()
    out.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()
