def test_healthz_names_components(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["engine"] == "postgresql" and body["database"]["ok"]
    assert body["channel_layer"]["backend"]
    assert body["broker"]["backend"]
