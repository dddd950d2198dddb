"""The running service: settings, the `sipas` command line, assembly of the parts, the scheduler."""
