"""A local MQTT broker (amqtt, pure Python) for `hub dev` and the tests, on a free loopback port."""

from __future__ import annotations

import socket

from amqtt.broker import Broker


class LocalBroker:
    """An anonymous MQTT broker listening on 127.0.0.1 only; ``url`` is what HUB_MQTT_URL would say."""

    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.url = f"mqtt://127.0.0.1:{self.port}"
        self._broker = Broker(
            {
                "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
                "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
            }
        )

    async def start(self) -> None:
        await self._broker.start()

    async def stop(self) -> None:
        await self._broker.shutdown()
