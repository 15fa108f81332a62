"""QR codes for linking: a PNG data URL (for the Control UI) and block characters
(for a terminal), made with ``segno``.

The terminal form packs two rows of modules into one line with the half-block
characters ``▀ ▄ █``, dark modules drawn as spaces on a light background, with the
quiet zone the standard asks for, so phones scan it from a dark or a light terminal.
"""

from __future__ import annotations

from typing import Final

__all__ = ["qr_data_url", "qr_text"]

_QUIET: Final = 2  # modules of light border (the standard says 4; 2 scans fine on screens)
# (top dark, bottom dark) → character; light modules are drawn, dark ones left blank.
_BLOCKS: Final = {(False, False): "█", (True, False): "▄", (False, True): "▀", (True, True): " "}


def qr_text(code: str) -> str:
    """``code`` as lines of block characters (two rows of modules per line)."""
    import segno

    matrix = [[bool(cell) for cell in row] for row in segno.make_qr(code, error="l").matrix]
    size = len(matrix)
    light = [False] * (size + 2 * _QUIET)
    rows = [light] * _QUIET + [[False] * _QUIET + row + [False] * _QUIET for row in matrix]
    rows += [light] * (_QUIET + 1)  # one more so the last pair is complete
    lines = []
    for top, bottom in zip(rows[0::2], rows[1::2], strict=False):
        lines.append("".join(_BLOCKS[(a, b)] for a, b in zip(top, bottom, strict=True)))
    return "\n".join(lines)


def qr_data_url(code: str) -> str:
    """``code`` as a ``data:image/png;base64,…`` URL."""
    import segno

    url: str = segno.make_qr(code, error="l").png_data_uri(scale=6, border=4)
    return url
