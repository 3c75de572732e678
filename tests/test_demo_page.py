"""The demo page (/widget/) names this installation's addresses: its widget
dials the configured Rasa, whatever port it was started on; and the
widget's pages and scripts fit a strict Content-Security-Policy."""

from __future__ import annotations

import re
from typing import Any

from handoff.demo import demo_page
from handoff.settings import PROJECT_ROOT, Settings


def settings(**fields: Any) -> Settings:
    return Settings(rasa_token="unused", service_token="unused", **fields)


def test_the_widget_dials_rasa_on_the_configured_port():
    page = demo_page(settings(host="127.0.0.1", port=8100, rasa_port=5105))
    assert 'data-rasa-url="http://127.0.0.1:5105"></script>' in page
    assert 'src="http://127.0.0.1:8100/widget/widget.js"' in page
    assert "5005" not in page and "$" not in page


def test_a_public_rasa_address_wins_and_is_escaped():
    page = demo_page(settings(rasa_port=5105, public_rasa_url='https://bot.example/"><b>'))
    assert 'data-rasa-url="https://bot.example/&quot;&gt;&lt;b&gt;"></script>' in page
    assert "<b>" not in page and "5105" not in page


def test_the_widget_needs_no_inline_script_or_style():
    """What a strict Content-Security-Policy (``script-src 'self'; style-src
    'self'``) refuses is in none of the widget's pages and scripts: inline
    scripts and handlers, ``<style>`` blocks, ``style`` attributes, markup
    written as text, ``eval``."""
    widget = PROJECT_ROOT / "widget"
    for page in (demo_page(settings()), (widget / "frame.html").read_text(encoding="utf-8")):
        assert re.findall(r"<script(?![^>]*\ssrc=)", page) == []
        assert not re.search(r"<style|\sstyle=|\son[a-z]+=", page)
    for name in ("widget.js", "frame.js"):
        script = (widget / name).read_text(encoding="utf-8")
        assert not re.search(
            r"innerHTML|insertAdjacentHTML|eval\(|new Function|setAttribute\(\"style", script
        )
