"""The demo page (/widget/) names this installation's addresses: its widget
dials the configured Rasa, whatever port it was started on."""

from __future__ import annotations

from typing import Any

from handoff.demo import demo_page
from handoff.settings import Settings


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
