"""The Playground's canvas as a Streamlit components-v2 component (registered once, at import).

The assets are plain files in the repository (``ui/views/canvas_js``: vanilla JS and CSS, no build step);
``ui.views.canvas_payload`` builds the data it draws. The component sends one trigger value, ``event``, per
gesture (a click, a box, a lasso, a Draw-mode click): ``ui.state.events.apply_canvas_event`` applies it.
The Playground mounts it through ``app_pages.live.mount_canvas`` (a fragment that streams a running forget).
"""
from typing import Callable

import streamlit as st

from ui.views.canvas_payload import CANVAS_CSS, CANVAS_JS

_CANVAS = st.components.v2.component("jit_playground_canvas", css=CANVAS_CSS, js=CANVAS_JS, isolate_styles=False)


def canvas(data: dict, *, key: str, on_event: Callable[[], None] | None = None):
    """Mount the canvas with ``data`` (``canvas_payload``); ``on_event`` runs before the rerun a gesture causes
    and reads the gesture from ``event_of(st.session_state[key])``."""
    return _CANVAS(key=key, data=data, on_event_change=on_event or (lambda: None), width="stretch", height="content")


def event_of(state) -> dict | None:
    """The gesture in a canvas's session-state value (a mapping or an attribute object), if any."""
    if state is None:
        return None
    ev = state.get("event") if hasattr(state, "get") else getattr(state, "event", None)
    return ev if isinstance(ev, dict) else None
