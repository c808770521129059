"""The settings of `make dev` (tools/dev.py): the ports of the processes it starts and
how many runners; each default is the service's own, the builder's, the consumer's and
the runner supervisor's metrics ports follow the gateway's."""

from __future__ import annotations

from dataclasses import dataclass

from common.settings import ServiceSettings, env
from gateway.settings import Settings as GatewaySettings
from runner.settings import SupervisorSettings


@dataclass(frozen=True)
class DevSettings(ServiceSettings):
    port: int = env("PORT", GatewaySettings.port)
    builder_port: int = env("NIL_BUILDER_PORT", 0)  # 0: port + 1
    consumer_port: int = env("NIL_CONSUMER_PORT", 0)  # 0: port + 2
    supervisor_port: int = env("NIL_SUPERVISOR_PORT", 0)  # 0: port + 3
    invoker_port: int = env("NIL_INVOKER_PORT", 0)  # 0: port + 4
    scheduler_port: int = env("NIL_SCHEDULER_PORT", 0)  # 0: port + 5
    runners: int = env("NIL_RUNNERS", SupervisorSettings.min_runners)

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "builder_port", self.builder_port or self.port + 1)
        object.__setattr__(self, "consumer_port", self.consumer_port or self.port + 2)
        object.__setattr__(self, "supervisor_port", self.supervisor_port or self.port + 3)
        object.__setattr__(self, "invoker_port", self.invoker_port or self.port + 4)
        object.__setattr__(self, "scheduler_port", self.scheduler_port or self.port + 5)
