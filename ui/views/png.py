"""PNG export: a figure rendered by Kaleido in the system Chromium, one warm browser on its own thread.

    figure_png(fig, scale=2) -> bytes    PNG bytes (the first call starts the browser, later calls reuse it)
    chromium_path() -> str               the browser it uses, or a RuntimeError that says what to install
    stop_png_renderer()                  close the browser (also done at exit)
"""
from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import os
import shutil
import threading
from typing import Any

import plotly.graph_objects as go

from .html import static_figure

INSTALL_HINT = ("Install Chromium (Debian/Ubuntu: `apt-get install chromium`) or Google Chrome, or set the "
                "BROWSER_PATH environment variable to a Chrome/Chromium executable.")


SYSTEM_CHROMIUM = "/usr/bin/chromium"  # Debian's `chromium` package
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def _kaleido_browser() -> str | None:
    """A Chrome that Kaleido's driver knows of (``kaleido_get_chrome`` downloads, typical places)."""
    try:
        from choreographer.browsers.chromium import Chromium
        return Chromium.find_browser(skip_local=False)
    except Exception:  # best effort: the lookup is internal to Kaleido's browser driver
        return None


def chromium_path() -> str:
    """The Chrome/Chromium that renders PNGs: $BROWSER_PATH if set, else /usr/bin/chromium, else one
    that Kaleido's own lookup finds (a downloaded Chrome, PATH, typical places). RuntimeError if none."""
    env = os.environ.get("BROWSER_PATH")
    if env:
        if os.path.isfile(env) and os.access(env, os.X_OK):
            return env
        raise RuntimeError(f"BROWSER_PATH={env!r} is not an executable file, so no PNG can be rendered. "
                           f"Point BROWSER_PATH at Chrome/Chromium, or unset it. {INSTALL_HINT}")
    if os.path.isfile(SYSTEM_CHROMIUM) and os.access(SYSTEM_CHROMIUM, os.X_OK):
        return SYSTEM_CHROMIUM
    for name in BROWSER_NAMES:
        found = shutil.which(name)
        if found:
            return found
    found = _kaleido_browser()
    if found and os.path.isfile(found):
        return str(found)
    raise RuntimeError(f"PNG export needs a Chrome or Chromium browser, and none was found. {INSTALL_HINT}")


class _Renderer:
    """One warm Kaleido (one headless Chromium) on a private event-loop thread.

    Kaleido's own ``start_sync_server`` would do the same, but when the browser fails to start its
    server thread dies and every later call waits forever; here each call has a timeout and a
    failure closes the browser, so the next call starts a fresh one.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._kaleido = None
        self._path: str | None = None
        atexit.register(self.stop)

    @property
    def running(self) -> bool:
        return self._kaleido is not None and self._thread is not None and self._thread.is_alive()

    def _start(self, path: str, timeout: float) -> None:
        import kaleido

        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="png-export-kaleido", daemon=True)
        thread.start()
        self._loop, self._thread, self._path = loop, thread, path

        async def open_browser():
            k = kaleido.Kaleido(path=path, mathjax=False, timeout=timeout)
            await k.open()
            return k

        try:
            self._kaleido = asyncio.run_coroutine_threadsafe(open_browser(), loop).result(timeout)
        except Exception as err:
            self._shutdown()
            reason = "timed out" if isinstance(err, concurrent.futures.TimeoutError) else f"failed: {err}"
            raise RuntimeError(f"Starting the browser for PNG export ({path}) {reason}. {INSTALL_HINT}") from err

    def render(self, fig_dict: dict, opts: dict, path: str, timeout: float) -> bytes:
        with self._lock:
            if not self.running or self._path != path:
                self._shutdown()
                self._start(path, timeout)
            fut = asyncio.run_coroutine_threadsafe(self._kaleido.calc_fig(fig_dict, opts=opts), self._loop)
            try:
                return fut.result(timeout)
            except Exception as err:  # (a Streamlit rerun's BaseException passes through; the render ends alone)
                fut.cancel()
                self._shutdown()
                reason = "timed out" if isinstance(err, concurrent.futures.TimeoutError) else f"failed: {err}"
                raise RuntimeError(f"Rendering the PNG {reason}. The browser was closed; the next call starts "
                                   f"a fresh one.") from err

    def _shutdown(self) -> None:
        loop, k = self._loop, self._kaleido
        self._kaleido = None
        if loop is not None and k is not None and loop.is_running():
            try:
                asyncio.run_coroutine_threadsafe(k.close(), loop).result(10)
            except BaseException:
                pass  # the browser process is gone or stuck; the thread below is a daemon
        if loop is not None:
            loop.call_soon_threadsafe(loop.stop)
            if self._thread is not None:
                self._thread.join(5)
            if not loop.is_running():
                loop.close()
        self._loop = self._thread = None

    def stop(self) -> None:
        with self._lock:
            self._shutdown()


_RENDERER = _Renderer()


def figure_png(fig: go.Figure | dict, *, scale: float = 2, width: int | None = None, height: int | None = None,
               frame: str | None = None, timeout: float = 60) -> bytes:
    """The figure (a Figure or a figure dict) as PNG bytes, rendered by Kaleido in the system
    Chromium (see ``chromium_path``), without MathJax and without network.

    Size: ``scale`` x (``width``, ``height``) pixels; each defaults to the figure's layout value,
    else Kaleido's 700 x 500. Animation controls are dropped (``static_figure``): the image shows
    what the figure shows, or frame ``frame``. The first call starts a headless browser (~2.5 s)
    that later calls reuse (~0.3 s); ``stop_png_renderer()`` closes it. RuntimeError if no browser
    is found or it fails.
    """
    path = chromium_path()
    opts: dict[str, Any] = {"format": "png"}
    for name, v, hi in (("scale", scale, 10), ("width", width, 10_000), ("height", height, 10_000)):
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= hi:
            raise ValueError(f"{name} must be a number in (0, {hi}], got {v!r}")
        opts[name] = v
    static = static_figure(fig, frame=frame)
    return _RENDERER.render(static, opts, path, timeout)


def stop_png_renderer() -> None:
    """Close the browser that ``figure_png`` keeps warm (it is also closed at exit)."""
    _RENDERER.stop()
