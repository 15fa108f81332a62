from harness import GatewayProcess, RawClient


def test_hello_ok(gateway: GatewayProcess) -> None:
    client = RawClient(gateway.url)
    assert client.challenge["event"] == "connect.challenge"
    hello = client.handshake(gateway.token)
    assert hello["type"] == "hello-ok"
    assert hello["protocol"] == 4
    reply = client.request("health")
    assert reply["ok"] is True
    client.close()
