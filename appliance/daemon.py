"""The composition root: reads the component specs (appliance/core/registry.py), orders them from the services
they declare, builds each with only its own config section and declared services, starts them (each once the
components it depends on have started; independent ones concurrently), stops them in reverse. Nothing else
wires components together."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from appliance import ports, startgc
from appliance.appconfig import AppConfig, load_config
from appliance.component import Component
from appliance.config import EX_CONFIG, ConfigError
from appliance.core.context import Context
from appliance.core.graph import start_order
from appliance.core.registry import load_specs
from appliance.core.spec import ASSEMBLY, Assembly, ComponentSpec, Installed, Setup
from appliance.lifecycle import Lifecycle, is_alive
from appliance.statusline import status_line
from appliance.systemd import Notifier, watchdog_interval

log = logging.getLogger("appliance.daemon")

ROOT_SERVICES = (ASSEMBLY,)  # what the root itself provides


def build_components(
    config: AppConfig, ctx: Context, specs: Sequence[ComponentSpec[Any]] | None = None
) -> Assembly:
    """Construct every component in start order, each from its own section and declared services."""
    assembly = Assembly(ctx.lifecycle)
    ctx.services.provide(ASSEMBLY, assembly, "daemon")
    for spec in start_order(specs if specs is not None else load_specs(), given=ROOT_SERVICES):
        component = spec.build(Setup(spec, config.by_name(spec.name), ctx))
        component.critical = spec.critical
        assembly.installed.append(Installed(spec, component))
    return assembly


def changed_keys(old: Any, new: Any) -> list[str]:
    if old is None or new is None or not dataclasses.is_dataclass(old):
        return [] if old == new else ["*"]
    return [f.name for f in dataclasses.fields(old) if getattr(old, f.name) != getattr(new, f.name)]


class Daemon:
    """Runs the components under systemd: READY=1 once all started, WATCHDOG=1 while the loop and every critical
    component are alive, STATUS= as the state changes, STOPPING=1 on SIGTERM, a config reload on SIGHUP."""

    LAG_PERIOD = 0.25  # seconds between event-loop lag measurements
    STATUS_PERIOD = 2.0  # seconds between STATUS= refreshes (sent only when the line changed)

    def __init__(
        self,
        config: AppConfig,
        ctx: Context | None = None,
        *,
        specs: Sequence[ComponentSpec[Any]] | None = None,
        config_path: Path | None = None,
        config_defaults: Mapping[str, Any] | None = None,
    ) -> None:
        self.config = config
        self.ctx = ctx if ctx is not None else Context(config_source=config.source)
        self.specs = list(specs) if specs is not None else load_specs()
        self.config_path = config_path
        self.config_defaults = dict(config_defaults or {})
        self.assembly = Assembly(self.ctx.lifecycle)
        self._started: set[str] = set()
        self._stop = asyncio.Event()
        self._reload_task: asyncio.Task[bool] | None = None
        self.exit_status = 0
        if self.ctx.request_stop is None:
            self.ctx.request_stop = self.request_stop

    @property
    def notifier(self) -> Notifier:
        return self.ctx.notifier

    @property
    def lifecycle(self) -> Lifecycle:
        return self.ctx.lifecycle

    @property
    def components(self) -> list[Component]:
        return self.assembly.components()

    def request_stop(self, reason: str = "requested") -> None:
        if not self._stop.is_set():
            log.info("stopping: %s", reason)
            self.lifecycle.stop_reason = reason
            self._stop.set()

    def request_reload(self) -> None:
        if self._reload_task is None or self._reload_task.done():
            self._reload_task = asyncio.get_running_loop().create_task(self.reload())

    def status_line(self) -> str:
        services = self.ctx.services
        return status_line(self.assembly.checks(), self.lifecycle, flight=services.get(ports.FLIGHT),
                           outbox=services.get(ports.OUTBOX), modem=services.get(ports.MODEM),
                           alarms=self.ctx.alarms)

    async def start(self) -> None:
        """Build every component, then start each once those it depends on have started (independent ones
        concurrently). A non-critical component that fails to start is reported (the daemon runs degraded); a
        critical one, or a ConfigError from any, is raised once the others' starts have ended."""
        loop = asyncio.get_running_loop()
        self.lifecycle.started_monotonic = loop.time()
        self.lifecycle.max_loop_lag = self.config.daemon.watchdog_max_lag
        built = loop.time()
        self.assembly = build_components(self.config, self.ctx, self.specs)
        self.lifecycle.start_seconds["(build)"] = round(loop.time() - built, 3)
        providers: dict[Any, list[str]] = {}
        for installed in self.assembly.installed:
            for key in installed.spec.provides:
                providers.setdefault(key, []).append(installed.spec.name)
        attempted = {i.spec.name: asyncio.Event() for i in self.assembly.installed}

        async def start_one(installed: Installed) -> None:
            spec, component = installed.spec, installed.component
            try:
                for key in (*spec.requires, *spec.uses):
                    for name in providers.get(key, ()):
                        if name != spec.name:
                            await attempted[name].wait()
                if self._stop.is_set():
                    return
                self.notifier.status(f"starting {spec.name}")
                log.debug("starting %s", spec.name)
                started = loop.time()
                try:
                    await component.start()
                except ConfigError:
                    raise
                except Exception as error:
                    if spec.critical:
                        raise
                    log.exception("non-critical component %s failed to start; running degraded", spec.name)
                    self.lifecycle.start_failures[spec.name] = f"{type(error).__name__}: {error}"
                    return
                finally:
                    self.lifecycle.start_seconds[spec.name] = round(loop.time() - started, 3)
                self._started.add(spec.name)
            finally:
                attempted[spec.name].set()

        results = await asyncio.gather(*(start_one(i) for i in self.assembly.installed), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        for error in errors:
            if isinstance(error, ConfigError):
                raise error
        if errors:
            raise errors[0]

    async def stop(self) -> None:
        """Stop the started components in reverse start order within `daemon.stop_timeout` in total; one that
        overruns its share is abandoned so the ones below it (storage last) still stop cleanly."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.daemon.stop_timeout
        for installed in reversed(self.assembly.installed):
            if installed.spec.name not in self._started:
                continue
            self._started.discard(installed.spec.name)
            component = installed.component
            remaining = max(0.5, deadline - loop.time())
            try:
                async with asyncio.timeout(remaining):
                    await component.stop()
            except TimeoutError:
                log.error("component %s did not stop within %.1f s", component.name, remaining)
            except Exception:
                log.exception("component %s failed to stop cleanly", component.name)

    async def reload(self) -> bool:
        """SIGHUP: re-read and re-validate the config. A bad one is refused and the old one kept; a good one
        hands each component whose section changed its new section, when every changed key is one its spec
        declares `reloadable`; other changes are logged as needing a restart. READY=1 again either way."""
        self.notifier.reloading()
        self.lifecycle.reloading = True
        ok = True
        try:
            if self.config_path is None:
                log.info("reload: no config file, nothing to re-read")
            else:
                try:
                    new_config = load_config(self.config_path, self.config_defaults, self.specs)
                except ConfigError as error:
                    log.error("config reload refused, keeping the previous config: %s", error)
                    self.lifecycle.reload_error = str(error)
                    ok = False
                else:
                    self.lifecycle.reload_error = ""
                    await self._apply_reload(new_config)
        finally:
            self.lifecycle.reloading = False
        self.ctx.metrics.config_reloads.labels(result="applied" if ok else "refused").inc()
        self.lifecycle.status_line = self.status_line()
        self.notifier.ready(self.lifecycle.status_line)
        return ok

    async def _apply_reload(self, new_config: AppConfig) -> None:
        restart: list[str] = []
        for key in changed_keys(self.config.daemon, new_config.daemon):
            if key != "watchdog_max_lag":
                restart.append(f"daemon.{key}")
        self.lifecycle.max_loop_lag = new_config.daemon.watchdog_max_lag
        for installed in self.assembly.installed:
            spec = installed.spec
            old, new = self.config.by_name(spec.name), new_config.by_name(spec.name)
            changed = changed_keys(old, new)
            if not changed:
                continue
            reload = getattr(installed.component, "reload", None)
            live = [k for k in changed if k in spec.reloadable]
            later = [f"{spec.name}.{k}" for k in changed if k not in spec.reloadable]
            if live and callable(reload) and installed.spec.name in self._started:
                try:
                    result = reload(new)
                    if inspect.isawaitable(result):
                        await result
                    log.info("reload: %s applied %s", spec.name, ", ".join(f"{spec.name}.{k}" for k in live))
                except Exception:
                    log.exception("component %s failed to apply the new config", spec.name)
                    later.extend(f"{spec.name}.{k}" for k in live)
            else:
                later.extend(f"{spec.name}.{k}" for k in live)
            restart.extend(later)
        if restart:
            log.warning("reload: a restart is needed to apply %s", ", ".join(restart))
        self.lifecycle.restart_needed = restart
        self.config = new_config

    def watchdog_withheld_reason(self, own_lateness: float = 0.0) -> str:
        """Why WATCHDOG=1 must not be sent now ("" when it may)."""
        lag = max(self.lifecycle.loop_lag, own_lateness)
        if lag > self.lifecycle.max_loop_lag:
            return f"event loop lag {lag:.2f} s over {self.lifecycle.max_loop_lag:.2f} s"
        dead = [c.name for c in self.components if c.critical and not is_alive(c, self.lifecycle)]
        if dead:
            return "critical component not alive: " + ", ".join(dead)
        return ""

    async def _measure_lag(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            expected = loop.time() + self.LAG_PERIOD
            await asyncio.sleep(self.LAG_PERIOD)
            lag = max(0.0, loop.time() - expected)
            self.lifecycle.loop_lag = lag
            self.ctx.metrics.event_loop_lag.set(lag)

    async def _feed_watchdog(self, interval: float) -> None:
        loop = asyncio.get_running_loop()
        lateness = 0.0
        while True:
            reason = self.watchdog_withheld_reason(lateness)
            if not reason:
                self.notifier.watchdog()
                self.lifecycle.watchdog_pings += 1
                self.ctx.metrics.watchdog_pings.inc()
            else:
                self.ctx.metrics.watchdog_withheld.inc()
                if reason != self.lifecycle.watchdog_withheld:
                    log.warning("watchdog not fed: %s", reason)
            self.lifecycle.watchdog_withheld = reason
            expected = loop.time() + interval
            await asyncio.sleep(interval)
            lateness = max(0.0, loop.time() - expected)

    async def _refresh_status(self) -> None:
        while True:
            await asyncio.sleep(self.STATUS_PERIOD)
            if not self.lifecycle.reloading:
                self.lifecycle.status_line = self.status_line()
                self.notifier.status(self.lifecycle.status_line)

    def _announce_ready(self) -> None:
        self.lifecycle.ready = True
        self.ctx.metrics.ready.set(1)
        self.lifecycle.status_line = self.status_line()
        self.notifier.ready(self.lifecycle.status_line)
        log.info("running: %d components", len(self.components))  # tests and scripts wait for this line
        log.info("ready: %s", self.lifecycle.status_line)

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.request_stop, signal.Signals(signum).name)
        loop.add_signal_handler(signal.SIGHUP, self.request_reload)
        tasks: list[asyncio.Task[None]] = []
        try:
            await self.start()
            startgc.resume()  # before READY=1: whatever the daemon does from here runs with the collector on
            if not self._stop.is_set():
                self._announce_ready()
                tasks.append(loop.create_task(self._measure_lag()))
                tasks.append(loop.create_task(self._refresh_status()))
                self.lifecycle.watchdog_interval = watchdog_interval()
                if self.lifecycle.watchdog_interval is not None:
                    tasks.append(loop.create_task(self._feed_watchdog(self.lifecycle.watchdog_interval)))
                await self._stop.wait()
        except ConfigError as error:
            print(f"appliance: config error: {error}", file=sys.stderr)
            self.exit_status = EX_CONFIG
        except Exception:
            log.exception("the daemon could not start")
            self.exit_status = 1
        finally:
            startgc.resume()  # a start that failed
            self.lifecycle.ready = False
            self.lifecycle.stopping = True
            self.ctx.metrics.ready.set(0)
            self.notifier.stopping()
            for task in tasks:
                task.cancel()
            if self._reload_task is not None:
                self._reload_task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.stop()
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(signum)
        return self.exit_status or self.lifecycle.exit_status
