"""The Control UI's files, served from the package on the gateway's own port.

The files ship inside the Python package (``openclaw/ui/``): plain ES modules and one
stylesheet, no build step, no CDN, nothing fetched at run time. Each file is read
once, with its ETag (a content hash) and, where it pays, a gzip copy; a browser
revalidates with ``If-None-Match`` and gets ``304`` when nothing changed. Every
response carries a strict ``Content-Security-Policy`` (no inline script, no other
origin) and headers that keep the page out of frames and its address out of
referrers.
"""

from __future__ import annotations

import gzip
import hashlib
import http
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from openclaw.gateway.http import HttpRequest, HttpResponse, Route, RouteTable, json_response

if TYPE_CHECKING:
    from openclaw.gateway.app import App

__all__ = ["CSP", "UI_DIR", "add_ui_routes"]

UI_DIR = Path(__file__).resolve().parent.parent / "ui"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; "
       "object-src 'none'")
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png",
          ".json": "application/json", ".txt": "text/plain; charset=utf-8"}
_GZIP_MIN = 1024
_READ = frozenset({"GET", "HEAD"})
_ANY = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@dataclass(frozen=True)
class _File:
    body: bytes
    gzipped: bytes | None
    etag: str
    content_type: str


class StaticFiles:
    """The UI directory, read lazily and kept in memory (it is small)."""

    def __init__(self, root: Path = UI_DIR) -> None:
        self.root = root.resolve()
        self._cache: dict[str, _File | None] = {}

    def get(self, path: str) -> _File | None:
        """The file at URL ``path`` (``/`` is ``index.html``), or None."""
        if path not in self._cache:
            self._cache[path] = self._load(path)
        return self._cache[path]

    def _load(self, path: str) -> _File | None:
        relative = "index.html" if path in ("/", "") else path.lstrip("/")
        target = (self.root / relative).resolve()
        if self.root not in target.parents or not target.is_file() or \
                target.suffix not in _TYPES or target.name.startswith("."):
            return None
        body = target.read_bytes()
        packed = gzip.compress(body, 9, mtime=0) if len(body) >= _GZIP_MIN else None
        if packed is not None and len(packed) >= len(body) * 0.9:
            packed = None
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        return _File(body, packed, etag, _TYPES[target.suffix])


def _headers(file: _File) -> list[tuple[str, str]]:
    return [("Content-Type", file.content_type), ("ETag", file.etag),
            # revalidate every time: a gateway upgrade changes the files under one URL
            ("Cache-Control", "no-cache"), ("Content-Security-Policy", CSP),
            ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"),
            ("X-Frame-Options", "DENY"), ("Vary", "Accept-Encoding")]


def make_handler(files: StaticFiles) -> Route:
    """The catch-all route serving ``files``."""

    def serve(app: App, request: HttpRequest) -> HttpResponse:
        file = files.get(request.path)
        if file is None:
            return json_response(http.HTTPStatus.NOT_FOUND,
                                 {"ok": False, "error": f"not found: {request.path[:100]}"})
        if request.method not in _READ:
            return json_response(http.HTTPStatus.METHOD_NOT_ALLOWED,
                                 {"ok": False, "error": f"{request.method} not allowed here"},
                                 [("Allow", "GET, HEAD")])
        headers = _headers(file)
        if file.etag in {tag.strip() for tag in
                         request.headers.get("if-none-match", "").split(",")}:
            return HttpResponse(304, headers)
        accepts = request.headers.get("accept-encoding", "")
        if file.gzipped is not None and "gzip" in accepts:
            return HttpResponse(200, [*headers, ("Content-Encoding", "gzip")], file.gzipped)
        return HttpResponse(200, headers, file.body)

    # Every method reaches the handler, so a path with no file is 404 whatever the
    # method (a POST to a disabled API route must not look like an existing one).
    return Route("/", serve, methods=_ANY)


def add_ui_routes(routes: RouteTable, files: StaticFiles | None = None) -> None:
    """Serve the Control UI at ``/`` (every path not taken by a more specific route)."""
    routes.add(make_handler(files or StaticFiles()), prefix=True)
