# Turns on Synapse's metrics on every process of a homeserver the program deployed, for the
# benchmark's server-side latencies: a metrics listener on 127.0.0.1 for the main process (in
# conf.d/zz-bench-metrics.yaml, which repeats the main process's listeners: a later file's
# `listeners` replaces the earlier one's) and one in each worker's file. Prints the ports, one per
# line. Bench-only; a process that has a metrics listener already keeps it.
import glob, sys, yaml

ETC = "/etc/matrix-synapse"
port = int(sys.argv[1]) if len(sys.argv) > 1 else 9000
ports = []

def metrics_port(listeners):
    return next((l["port"] for l in listeners or [] if l.get("type") == "metrics"), None)

main = yaml.safe_load(open(f"{ETC}/homeserver.yaml"))
have = metrics_port(main.get("listeners"))
if have is None:
    listeners = list(main.get("listeners") or []) + [{"type": "metrics", "port": port, "bind_addresses": ["127.0.0.1"]}]
    with open(f"{ETC}/conf.d/zz-bench-metrics.yaml", "w") as f:
        yaml.safe_dump({"enable_metrics": True, "listeners": listeners}, f)
    have = port
ports.append(have)
for path in sorted(glob.glob(f"{ETC}/workers/*.yaml")):
    w = yaml.safe_load(open(path))
    have = metrics_port(w.get("worker_listeners"))
    if have is None:
        port += 1
        w.setdefault("worker_listeners", []).append({"type": "metrics", "port": port, "bind_addresses": ["127.0.0.1"]})
        with open(path, "w") as f:
            yaml.safe_dump(w, f)
        have = port
    ports.append(have)
print("\n".join(str(p) for p in ports))
