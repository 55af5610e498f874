"""Networks: segments, global IPAM on etcd (Docker driver, CNI plugin) and bandwidth limits."""
