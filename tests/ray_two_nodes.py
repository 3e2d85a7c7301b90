"""A Ray cluster of a head (no CPUs) and one worker node on this machine, for the node-loss test:
prints the address, then on a line "swap" on stdin adds a second worker node and removes the
first (what a machine lost mid-sweep looks like to Ray), printing "swapped"; ends on EOF."""

import sys

from ray.cluster_utils import Cluster

cluster = Cluster(initialize_head=True, connect=False, head_node_args={"num_cpus": 0})
doomed = cluster.add_node(num_cpus=1)
cluster.wait_for_nodes()
print(cluster.address, flush=True)
for line in sys.stdin:
    if line.strip() == "swap":
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        cluster.remove_node(doomed, allow_graceful=False)
        print("swapped", flush=True)
cluster.shutdown()
