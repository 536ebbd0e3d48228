"""psutil's view of the process and the machine as Prometheus metrics, collected at scrape time, plus the
daemon's per-component health."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from appliance.component import Component, Status
from appliance.lifecycle import Lifecycle, component_check

HEALTH_VALUE = {Status.PASS: 0, Status.WARN: 1, Status.FAIL: 2}


class SystemCollector(Collector):
    def __init__(
        self,
        state_dir: Path | None,
        components: Callable[[], list[Component]],
        lifecycle: Lifecycle,
    ) -> None:
        self._state_dir = state_dir
        self._components = components
        self._lifecycle = lifecycle
        self._process = psutil.Process()

    def describe(self) -> Iterator[Metric]:
        """Nothing up front: registering must not run a collection (it asks every component for health)."""
        return iter(())

    def collect(self) -> Iterator[Metric]:
        yield from self._process_metrics()
        yield from self._system_metrics()
        yield from self._disk_metrics()
        yield from self._temperatures()
        yield from self._health()

    def _process_metrics(self) -> Iterator[Metric]:
        with self._process.oneshot():
            times = self._process.cpu_times()
            memory = self._process.memory_info()
            threads = self._process.num_threads()
            fds = self._process.num_fds()
        cpu = CounterMetricFamily(
            "appliance_process_cpu_seconds", "CPU time the daemon used, by mode.", labels=["mode"]
        )
        cpu.add_metric(["user"], times.user)
        cpu.add_metric(["system"], times.system)
        yield cpu
        yield GaugeMetricFamily("appliance_process_resident_memory_bytes", "Daemon resident set size.", memory.rss)
        yield GaugeMetricFamily("appliance_process_virtual_memory_bytes", "Daemon virtual memory size.", memory.vms)
        yield GaugeMetricFamily("appliance_process_threads", "Daemon threads.", threads)
        yield GaugeMetricFamily("appliance_process_open_fds", "Daemon open file descriptors.", fds)

    def _system_metrics(self) -> Iterator[Metric]:
        times = psutil.cpu_times()
        cpu = CounterMetricFamily("appliance_system_cpu_seconds", "Machine CPU time by mode.", labels=["mode"])
        for mode in ("user", "system", "idle", "iowait", "nice", "irq", "softirq", "steal"):
            value = getattr(times, mode, None)
            if value is not None:
                cpu.add_metric([mode], value)
        yield cpu
        yield GaugeMetricFamily("appliance_system_cpus", "Logical CPUs.", psutil.cpu_count() or 0)
        load1, load5, load15 = psutil.getloadavg()
        load = GaugeMetricFamily("appliance_system_load_average", "Load average.", labels=["window"])
        load.add_metric(["1m"], load1)
        load.add_metric(["5m"], load5)
        load.add_metric(["15m"], load15)
        yield load
        vm = psutil.virtual_memory()
        memory = GaugeMetricFamily("appliance_system_memory_bytes", "Machine memory.", labels=["kind"])
        memory.add_metric(["total"], vm.total)
        memory.add_metric(["available"], vm.available)
        memory.add_metric(["used"], vm.used)
        yield memory

    def _disk_metrics(self) -> Iterator[Metric]:
        if self._state_dir is None:  # no storage component in this build
            return
        try:
            usage = psutil.disk_usage(str(self._state_dir))
        except OSError:
            return
        disk = GaugeMetricFamily(
            "appliance_state_disk_bytes", "File system holding the state directory.", labels=["kind"]
        )
        disk.add_metric(["total"], usage.total)
        disk.add_metric(["used"], usage.used)
        disk.add_metric(["free"], usage.free)
        yield disk

    def _temperatures(self) -> Iterator[Metric]:
        read = getattr(psutil, "sensors_temperatures", None)
        if read is None:
            return
        try:
            sensors = read()
        except (OSError, RuntimeError):
            return
        if not sensors:
            return
        family = GaugeMetricFamily(
            "appliance_hardware_temperature_celsius", "Machine temperatures (psutil).", labels=["chip", "sensor"]
        )
        seen: set[tuple[str, str]] = set()
        for chip, entries in sensors.items():
            for index, entry in enumerate(entries):
                key = (chip, entry.label or str(index))
                if key not in seen:
                    seen.add(key)
                    family.add_metric(list(key), entry.current)
        yield family

    def _health(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "appliance_component_health", "Component health: 0 pass, 1 warn, 2 fail.", labels=["component"]
        )
        for component in self._components():
            family.add_metric([component.name], HEALTH_VALUE[component_check(component, self._lifecycle).status])
        yield family
