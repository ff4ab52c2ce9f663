import re


def test_api_docs_load_their_assets_locally(client, db):
    """Self-hosted installs may have no internet: Swagger UI must not come from a CDN."""
    page = client.get("/api/docs/")
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.content.decode())
    assert assets and all(url.startswith("/static/") for url in assets), assets
    for url in assets:
        assert client.get(url).status_code == 200, url
    schema = client.get("/api/schema/")
    assert schema.status_code == 200 and b"/api/v1/viewer" in schema.content
