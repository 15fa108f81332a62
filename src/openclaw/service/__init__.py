"""Running the gateway as an OS service: systemd (user or system) and launchd.

The unit or plist is rendered by pure functions from a :class:`~.spec.ServiceSpec`;
the backends only write files and drive the service manager through a thin command
runner, so everything that decides *what* is installed is testable without one.
:mod:`.ops` is the API the CLI and ``doctor`` call (install, uninstall, start, stop,
restart), :mod:`.status` and :mod:`.doctor` the probes.
"""
