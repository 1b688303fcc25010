"""The arguments PythonClientTest gives each script that runs against a service: where the
cluster and the service's topics are, the run id to use and the service's decay."""

import argparse


def parser():
    """An argument parser holding the service's arguments; scripts add their own."""
    p = argparse.ArgumentParser()
    p.add_argument("--bootstrap-servers", required=True)
    p.add_argument("--snapshots-topic", required=True)
    p.add_argument("--manifests-topic", required=True)
    p.add_argument("--run-events-topic", default="run-events")
    p.add_argument("--run", required=True)
    p.add_argument("--decay", type=float, required=True)
    return p
