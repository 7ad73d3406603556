import httpx


def test_sign_in_and_refuse_wrong_password(live_server):
    with httpx.Client(base_url=live_server.url) as client:
        bad = client.post("/login", data={"username": "alice", "password": "nope"})
        assert bad.status_code == 401
        assert client.get("/user").status_code == 401
        ok = client.post("/login", data={"username": "alice", "password": "wonderland"})
        assert ok.status_code == 200
        me = client.get("/user").json()
        assert me["identifier"] == "alice"
