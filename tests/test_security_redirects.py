"""The login redirect goes back only to a page of this app (issue 13, item 11)."""

import pytest

from teller_guard.auth import safe_next


@pytest.mark.parametrize("target", [
    "//evil.example/", "/\\evil.example", "/\\/evil.example", "\\\\evil.example",
    "https://evil.example/", "http:/evil.example", "javascript:alert(1)",
    "/%5Cevil.example", "/\t/evil.example", "/ /evil.example", "evil.example",
    "/no-such-page", "",
])
def test_anything_but_a_page_of_the_app_is_refused(app, target):
    with app.test_request_context("/login"):
        assert safe_next(target) is None


@pytest.mark.parametrize("target", ["/admin/settings", "/review/?status=pending&page=2",
                                    "/screening/12/result"])
def test_pages_of_the_app_are_kept(app, target):
    with app.test_request_context("/login"):
        assert safe_next(target) == target


@pytest.mark.parametrize("stored", ["/\\evil.example", "/\\/evil.example/x"])
def test_a_stored_next_link_to_another_site_lands_on_the_home_page(client, auth, stored):
    with client.session_transaction() as session:
        session["next"] = stored
    response = auth.login("admin")
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/"
