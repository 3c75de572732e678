"""The knowledge base (O9) and REGISTRAR (O10)."""

from __future__ import annotations

from tests.support.api import Client, error_of, open_attendance


def test_articles_by_category_and_text(service, operator: Client):
    everything = operator.get("/api/kb/articles").json()
    assert everything["categories"] == sorted(everything["categories"])
    assert len(everything["articles"]) >= 4
    category = everything["categories"][0]
    in_category = operator.get("/api/kb/articles", category=category).json()["articles"]
    assert in_category and all(a["category"] == category for a in in_category)
    iptu = operator.get("/api/kb/articles", q="iptu").json()["articles"]
    assert iptu and all("IPTU" in a["title"] or "IPTU" in a["body"] for a in iptu)
    assert (
        error_of(operator.get("/api/kb/articles", attendance_id="x"), 400)["field"]
        == "attendance_id"
    )


def test_registering_an_article_marks_it_once(service, operator: Client):
    call = open_attendance(service)
    operator.take(call["id"])
    article = operator.get("/api/kb/articles").json()["articles"][0]
    url = f"/api/attendances/{call['id']}/registrations"
    first = operator.post(url, {"article_id": article["id"]})
    again = operator.post(url, {"article_id": article["id"]})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["registration"]["id"] == again.json()["registration"]["id"]
    marked = operator.get("/api/kb/articles", attendance_id=call["id"]).json()["articles"]
    assert [a["id"] for a in marked if a["registered"]] == [article["id"]]
    assert error_of(operator.post(url, {"article_id": 999999}), 404)
    operator.post(f"/api/attendances/{call['id']}/finish")
    assert error_of(operator.post(url, {"article_id": article["id"]}), 409)
