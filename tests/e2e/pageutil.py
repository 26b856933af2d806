"""Waiting on a Streamlit page in Playwright, shared by the browser tests."""
from __future__ import annotations

from playwright.sync_api import Page

RUN_TIMEOUT_MS = 120_000  # a script run that trains / unlearns / retrains on 2 slow cores


def settle(page: Page) -> None:
    """Give Streamlit time to start the rerun an action caused, then wait for it to finish."""
    page.wait_for_timeout(200)
    page.wait_for_selector("[data-testid='stApp'][data-test-connection-state='CONNECTED']", timeout=RUN_TIMEOUT_MS)
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=RUN_TIMEOUT_MS)


def assert_no_exception(page: Page) -> None:
    exc = page.locator("[data-testid='stException']")
    assert exc.count() == 0, "Streamlit shows an exception:\n" + "\n".join(exc.all_inner_texts())


def hover_click(page: Page, x: float, y: float) -> None:
    """Move onto (x, y) from the upper left, pause, click: plotly selects the hovered point."""
    page.mouse.move(x - 25, y - 25)
    page.mouse.move(x, y, steps=4)
    page.wait_for_timeout(150)
    page.mouse.click(x, y)
