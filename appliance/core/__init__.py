"""The daemon's small core, below every component: what a component may be given (`Context`, `Setup`), how it
declares itself (`ComponentSpec`), the services it offers and takes (`ServiceKey`), the start order
(`start_order`) and the list of component packages (`registry.PACKAGES`).

Nothing here imports a component package; the composition root (`appliance/daemon.py`) puts them together.
"""
