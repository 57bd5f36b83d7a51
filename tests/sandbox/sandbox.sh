#!/usr/bin/env bash
# sandbox.sh: throwaway Debian sid "VPS"es on this machine, for people and for the e2e tests.
#
# Each VPS is a systemd-nspawn container booting systemd as PID 1 on an overlayfs over a cached
# golden rootfs, reachable over SSH at 10.231.N.2 on its own veth /30 link (host side 10.231.N.1),
# with NAT to the Debian package mirror and PyPI only. See tests/sandbox/README.md.
#
#   sandbox.sh golden [base|packages] [--force]   build the cached golden image(s) (default: both)
#   sandbox.sh up N [--image base|packages] [--cpus LIST] [--memory SIZE]
#                                                 boot VPS N (1..250), print its address; --cpus
#                                                 pins it to host CPUs (e.g. 1), --memory caps its
#                                                 RAM (e.g. 2G: a tier's host), both through cgroups
#   sandbox.sh stop N / start N [--cpus …] [--memory …]
#                                                 shut VPS N down keeping its disk, boot it again
#   sandbox.sh stats N                            its CPU seconds, peak memory and OOM kills so far
#   sandbox.sh pss N                              the PSS of its processes now (KiB), in all and by role,
#                                                 read from the host (nothing runs in the VPS for it)
#   sandbox.sh cpu N                              the CPU time its processes used so far, by role
#                                                 (and its cgroup's total), read from the host
#   sandbox.sh down [N...]                        tear down VPS N..., or all of them
#   sandbox.sh ssh N [cmd...]                     ssh root@10.231.N.2 with the sandbox key
#   sandbox.sh status                             list running VPSes
#   sandbox.sh check                              exit 0 if the sandbox can run here, else say why
#
# Environment: SANDBOX_HOME (default /var/lib/synapse-sandbox), SANDBOX_MIRROR
# (default http://deb.debian.org/debian), SANDBOX_BOOT_TIMEOUT (s, default 90),
# SANDBOX_STOP_TIMEOUT (s, default 20), SANDBOX_EGRESS_ALLOW (extra IPv4 addresses/CIDRs a VPS
# may reach on ports 80/443, space separated), SANDBOX_REGISTRY_HOSTS (names a VPS may reach on
# 80/443 through /etc/hosts, default "pypi.org files.pythonhosted.org index.crates.io static.crates.io":
# PyPI for the S3 provider and synadm, crates.io for the state compressor), SANDBOX_KEEP_FAILED=1 (leave a VPS that failed to
# come up running, for debugging).
set -euo pipefail

SANDBOX_HOME=${SANDBOX_HOME:-/var/lib/synapse-sandbox}
case $SANDBOX_HOME in /*) ;; *) SANDBOX_HOME=$PWD/$SANDBOX_HOME ;; esac
SANDBOX_MIRROR=${SANDBOX_MIRROR:-http://deb.debian.org/debian}
SANDBOX_BOOT_TIMEOUT=${SANDBOX_BOOT_TIMEOUT:-90}
SANDBOX_STOP_TIMEOUT=${SANDBOX_STOP_TIMEOUT:-20}
SANDBOX_EGRESS_ALLOW=${SANDBOX_EGRESS_ALLOW:-}
SANDBOX_REGISTRY_HOSTS=${SANDBOX_REGISTRY_HOSTS-pypi.org files.pythonhosted.org index.crates.io static.crates.io}

readonly SUITE=sid
readonly GOLDEN_FORMAT=1 # bump to force a rebuild of the golden images after changing their recipe
readonly BASE_PACKAGES="systemd-sysv,dbus,ca-certificates,iproute2,openssh-server,sudo,curl,less,gnupg,procps,iputils-ping,netbase,libpam-systemd,cron,logrotate,apt-utils,nftables"
readonly EXTRA_PACKAGES="postgresql nginx redis-server matrix-synapse ssl-cert openssl certbot"
readonly EXTRA_SERVICES="postgresql.service nginx.service redis-server.service matrix-synapse.service"
readonly PRESEED_SERVER_NAME=example.invalid

readonly NET=10.231
readonly NFT_TABLE=synapse_sandbox
readonly CG_PREFIX=synapse-sandbox-vps

GOLDEN=$SANDBOX_HOME/golden
RUN=$SANDBOX_HOME/run
LOCKS=$SANDBOX_HOME/locks
LOGS=$SANDBOX_HOME/logs
KEY=$RUN/id_ed25519
SSH_OPTS=(-i "$KEY" -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no
  -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR)

log() { printf 'sandbox: %s\n' "$*" >&2; }
die() {
  printf 'sandbox: error: %s\n' "$*" >&2
  exit 1
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

usage() {
  sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0" >&2
  exit "${1:-2}"
}

# ---------------------------------------------------------------- preconditions

# Prints why the sandbox cannot run here (nothing when it can). $1=golden also requires debootstrap.
why_unavailable() {
  local need=${1:-}
  if [[ $EUID -ne 0 ]]; then
    echo "must run as root (it mounts overlays, creates veths and nftables rules): sudo $0 ..."
    return
  fi
  if ! command -v systemd-nspawn >/dev/null; then
    echo "systemd-nspawn not found: apt-get install -y systemd-container"
    return
  fi
  if [[ $need == golden ]] && ! command -v debootstrap >/dev/null; then
    echo "debootstrap not found: apt-get install -y debootstrap"
    return
  fi
  if ! command -v nft >/dev/null; then
    echo "nft not found: apt-get install -y nftables"
    return
  fi
  if ! command -v ssh >/dev/null || ! command -v ssh-keygen >/dev/null; then
    echo "ssh/ssh-keygen not found: apt-get install -y openssh-client"
    return
  fi
  local tool
  for tool in ip flock mountpoint setsid ps sha256sum awk; do
    if ! command -v "$tool" >/dev/null; then
      echo "$tool not found: apt-get install -y iproute2 util-linux procps coreutils gawk"
      return
    fi
  done
  if ! grep -qw overlay /proc/filesystems && ! modprobe overlay 2>/dev/null; then
    echo "the kernel has no overlayfs"
    return
  fi
  if ! cg2_root >/dev/null; then
    echo "no cgroup2 hierarchy mounted (/sys/fs/cgroup or /sys/fs/cgroup/unified)"
    return
  fi
  if [[ $need != golden && ! -f $GOLDEN/base.ok ]] && ! command -v debootstrap >/dev/null; then
    echo "golden image not built and debootstrap not found: apt-get install -y debootstrap"
    return
  fi
}

require() {
  local why
  why=$(why_unavailable "${1:-}")
  [[ -z $why ]] || die "$why"
}

# The cgroup2 mount (on a hybrid host like this one, the unified one).
cg2_root() {
  local d
  for d in /sys/fs/cgroup/unified /sys/fs/cgroup; do
    if [[ $(stat -fc %T "$d" 2>/dev/null) == cgroup2fs ]]; then
      echo "$d"
      return 0
    fi
  done
  return 1
}

# Takes an exclusive lock on $LOCKS/$1.lock, held on a new fd until the shell exits.
LOCK_FDS=()
lock() {
  mkdir -p "$LOCKS"
  local fd
  exec {fd}>"$LOCKS/$1.lock"
  flock "$fd"
  LOCK_FDS+=("$fd")
}
# Closes the lock fds (before starting a long-lived process that must not hold them).
close_locks() {
  local fd
  for fd in "${LOCK_FDS[@]}"; do exec {fd}>&-; done
  LOCK_FDS=()
}

# Unmounts everything mounted at or below $1 (deepest first), e.g. a debootstrap killed mid-way.
umount_below() {
  local dir=$1 mp
  awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo |
    sort -r | while read -r mp; do
    umount "$mp" 2>/dev/null || umount -l "$mp"
  done
}

# rm -rf that never crosses into another file system (a forgotten mount) and unmounts first.
remove_tree() {
  [[ -e $1 ]] || return 0
  umount_below "$1"
  rm -rf --one-file-system "$1"
}

# ---------------------------------------------------------------- golden images

spec_hash() {
  printf '%s\n' "$GOLDEN_FORMAT" "$SUITE" "$@" | sha256sum | cut -c1-16
}
base_spec() { spec_hash base "$BASE_PACKAGES"; }
packages_spec() { spec_hash packages "$EXTRA_PACKAGES" "$EXTRA_SERVICES" "$(marker_id base)"; }
marker_id() { sed -n 's/^id=//p' "$GOLDEN/$1.ok" 2>/dev/null || true; }
marker_spec() { sed -n 's/^spec=//p' "$GOLDEN/$1.ok" 2>/dev/null || true; }
golden_ready() {
  local spec
  spec=$("${1}_spec")
  [[ -f $GOLDEN/$1.ok && -d $GOLDEN/$1 && $(marker_spec "$1") == "$spec" ]]
}

vps_dirs() {
  local d
  for d in "$RUN"/vps*; do
    [[ -d $d && ${d##*/vps} =~ ^[0-9]+$ ]] && echo "$d"
  done
  return 0
}

refuse_if_in_use() {
  if [[ -n $(vps_dirs) ]]; then
    die "golden image '$1' must be (re)built but VPSes are running on it: run '$0 down' first"
  fi
}

write_marker() {
  local name=$1 spec=$2
  {
    echo "id=$(tr -d - </proc/sys/kernel/random/uuid)"
    echo "spec=$spec"
    echo "built=$(date -u +%FT%TZ)"
  } >"$GOLDEN/$name.ok.tmp"
  sync -f "$GOLDEN/$name.ok.tmp" 2>/dev/null || sync
  mv "$GOLDEN/$name.ok.tmp" "$GOLDEN/$name.ok"
}

# Runs a command inside a rootfs (not booted) with the host's network; /etc/hosts and
# /etc/resolv.conf are the host's, bound read-only, so the mirror resolves as on the host.
in_root() {
  local root=$1
  shift
  local rc=0
  # (nspawn 252 complains harmlessly about its propagation directory on exit: filtered out)
  systemd-nspawn --quiet -D "$root" --register=no --keep-unit --pipe --link-journal=no \
    --timezone=off --resolv-conf=bind-host --bind-ro=/etc/hosts \
    -E DEBIAN_FRONTEND=noninteractive -E LANG=C.UTF-8 "$@" </dev/null \
    2> >(grep -v 'Attempted to remove disk file system under' >&2) || rc=$?
  return "$rc"
}

build_base() {
  local force=${1:-} spec dir t0
  spec=$(base_spec)
  if [[ -z $force ]] && golden_ready base; then
    [[ -z ${GOLDEN_VERBOSE:-} ]] || log "golden image 'base' is ready ($GOLDEN/base)"
    return 0
  fi
  require golden
  refuse_if_in_use base
  t0=$(now)
  log "building golden image 'base' (debootstrap $SUITE, ~1 min) ..."
  mkdir -p "$GOLDEN"
  rm -f "$GOLDEN/base.ok" "$GOLDEN/packages.ok"
  dir=$GOLDEN/base.tmp
  remove_tree "$dir"
  if ! debootstrap --variant=minbase --components=main --include="$BASE_PACKAGES" \
    "$SUITE" "$dir" "$SANDBOX_MIRROR" >"$GOLDEN/base.build.log" 2>&1; then
    umount_below "$dir"
    tail -n 25 "$GOLDEN/base.build.log" >&2
    die "debootstrap failed (full log: $GOLDEN/base.build.log)"
  fi
  umount_below "$dir"

  # The mirror's sid Release file may be past its Valid-Until date.
  echo 'Acquire::Check-Valid-Until "false";' >"$dir/etc/apt/apt.conf.d/99sandbox-no-check-valid-until"
  # A VPS gets its identity (machine-id, hostname, SSH host keys, network) when it boots.
  : >"$dir/etc/machine-id"
  rm -f "$dir/var/lib/dbus/machine-id" "$dir"/etc/ssh/ssh_host_*
  echo localhost >"$dir/etc/hostname"
  printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\nff02::1\t\tip6-allnodes\nff02::2\t\tip6-allrouters\n' >"$dir/etc/hosts"
  echo 'LANG=C.UTF-8' >"$dir/etc/default/locale"
  # Cloud images ship without package lists or cached .debs: a fresh VPS must apt-get update.
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
  mkdir -p "$dir/var/lib/apt/lists/partial"
  in_root "$dir" sh -ec '
    systemctl enable systemd-networkd.service >/dev/null 2>&1
    # apt-daily would grab the dpkg/apt locks at random times during tests.
    systemctl disable apt-daily.timer apt-daily-upgrade.timer >/dev/null 2>&1 || true
  '
  rm -f "$dir/etc/resolv.conf"
  remove_tree "$GOLDEN/base"
  mv "$dir" "$GOLDEN/base"
  write_marker base "$spec"
  log "golden image 'base' built in $(since "$t0") s ($(du -sh "$GOLDEN/base" | cut -f1))"
}

build_packages() {
  local force=${1:-} spec b t0
  build_base
  spec=$(packages_spec)
  if [[ -z $force ]] && golden_ready packages; then
    [[ -z ${GOLDEN_VERBOSE:-} ]] || log "golden image 'packages' is ready ($GOLDEN/packages over base)"
    return 0
  fi
  require golden
  refuse_if_in_use packages
  t0=$(now)
  log "building golden image 'packages' ($EXTRA_PACKAGES, ~1 min) ..."
  rm -f "$GOLDEN/packages.ok"
  b=$GOLDEN/packages.build
  remove_tree "$b"
  mkdir -p "$b/upper" "$b/work" "$b/root"
  mount -t overlay overlay -o "lowerdir=$GOLDEN/base,upperdir=$b/upper,workdir=$b/work" "$b/root"
  cat >"$b/root/root/sandbox-build.sh" <<EOF
set -eu
printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
chmod 755 /usr/sbin/policy-rc.d
debconf-set-selections <<'SEL'
matrix-synapse matrix-synapse/server-name string $PRESEED_SERVER_NAME
matrix-synapse matrix-synapse/report-stats boolean false
SEL
apt-get update -q
apt-get install -y -q $EXTRA_PACKAGES
systemctl disable $EXTRA_SERVICES
rm -f /usr/sbin/policy-rc.d
apt-get clean
rm -rf /var/lib/apt/lists/*
mkdir -p /var/lib/apt/lists/partial
EOF
  if ! in_root "$b/root" sh /root/sandbox-build.sh >"$GOLDEN/packages.build.log" 2>&1; then
    umount_below "$b"
    tail -n 25 "$GOLDEN/packages.build.log" >&2
    die "installing the packages failed (full log: $GOLDEN/packages.build.log)"
  fi
  rm -f "$b/root/root/sandbox-build.sh" "$b/root/etc/resolv.conf"
  umount "$b/root"
  remove_tree "$GOLDEN/packages"
  mv "$b/upper" "$GOLDEN/packages"
  remove_tree "$b"
  write_marker packages "$spec"
  log "golden image 'packages' built in $(since "$t0") s ($(du -sh "$GOLDEN/packages" | cut -f1) over base)"
}

cmd_golden() {
  local which=all force=
  while (($#)); do
    case $1 in
      base | packages | all) which=$1 ;;
      --force) force=1 ;;
      *) usage ;;
    esac
    shift
  done
  require
  lock golden
  GOLDEN_VERBOSE=1
  case $which in
    base) build_base "$force" ;;
    packages) build_packages "$force" ;;
    all)
      build_base "$force"
      build_packages "$force"
      ;;
  esac
}

# ---------------------------------------------------------------- network

# IPv4 addresses of the package mirror as this host resolves them (often via /etc/hosts here).
mirror_addresses() {
  local host
  host=$(sed -E 's#^[a-z]+://([^/:]+).*#\1#' <<<"$SANDBOX_MIRROR")
  if [[ $host =~ ^[0-9.]+$ ]]; then
    echo "$host"
  else
    getent ahostsv4 "$host" | awk '{ print $1 }' | sort -u || true
  fi
}

mirror_host() { sed -E 's#^[a-z]+://([^/:]+).*#\1#' <<<"$SANDBOX_MIRROR"; }

# IPv4 addresses of one name as this host resolves it.
host_addresses() { getent ahostsv4 "$1" | awk '{ print $1 }' | sort -u || true; }

# NAT for 10.231.0.0/16 plus a filter: a VPS may reach other VPSes and the package mirror
# (tcp 80/443), nothing else. The host may not send to a 10.231.x address off the VPS links.
# Everything lives in one table, removed when the last VPS goes.
ensure_network() {
  local allow
  allow=$(
    {
      mirror_addresses
      for h in $SANDBOX_REGISTRY_HOSTS; do host_addresses "$h"; done
      tr ' ' '\n' <<<"$SANDBOX_EGRESS_ALLOW"
    } | awk 'NF' | sort -u | paste -sd, -
  )
  [[ -n $allow ]] || die "cannot resolve the package mirror $(mirror_host) on this host"
  if [[ $(cat /proc/sys/net/ipv4/ip_forward) != 1 ]]; then
    echo 1 >/proc/sys/net/ipv4/ip_forward
  fi
  if nft list table ip "$NFT_TABLE" >/dev/null 2>&1; then
    nft add element ip "$NFT_TABLE" egress "{ $allow }"
    return 0
  fi
  nft -f - <<EOF
table ip $NFT_TABLE {
  set egress {
    type ipv4_addr
    flags interval
    elements = { $allow }
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr $NET.0.0/16 oifname != "ve-vps*" masquerade
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    iifname "ve-vps*" oifname "ve-vps*" accept
    iifname "ve-vps*" ip daddr @egress tcp dport { 80, 443 } accept
    iifname "ve-vps*" reject with icmp type admin-prohibited
  }
  chain output {
    type filter hook output priority filter; policy accept;
    oifname "lo" accept
    ip daddr $NET.0.0/16 oifname != "ve-vps*" reject with icmp type admin-prohibited
  }
}
EOF
}

remove_network_if_idle() {
  [[ -z $(vps_dirs) ]] || return 0
  if nft list table ip "$NFT_TABLE" >/dev/null 2>&1; then
    nft delete table ip "$NFT_TABLE"
    log "no VPS left: removed nftables table ip $NFT_TABLE"
  fi
}

# ---------------------------------------------------------------- one VPS

valid_n() { [[ $1 =~ ^[0-9]+$ ]] && ((10#$1 >= 1 && 10#$1 <= 250)); }
check_n() { valid_n "$1" || die "VPS number must be 1..250, got '$1'"; }

pid_alive() { [[ -r /proc/$1/stat ]] && [[ $(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) != Z ]]; }

cg_dirs() {
  local d
  for d in /sys/fs/cgroup/*/"$CG_PREFIX$1" /sys/fs/cgroup/"$CG_PREFIX$1"; do
    [[ -d $d ]] && echo "$d"
  done
  return 0
}

# All processes in VPS N's cgroup2 tree.
cg_pids() {
  local root
  root=$(cg2_root) || return 0
  [[ -d $root/$CG_PREFIX$1 ]] || return 0
  find "$root/$CG_PREFIX$1" -name cgroup.procs -exec cat {} + 2>/dev/null || true
}

# cgroup v1 controllers a VPS is confined and measured by (this host's hierarchy is hybrid: the
# unified one carries no controller). Each VPS has its own group in each; its processes inherit it.
readonly V1_CONTROLLERS="cpuacct memory cpuset"
v1_dir() { echo "/sys/fs/cgroup/$1/$CG_PREFIX$2"; }

# v1_setup N CPUS MEMORY: the VPS's groups, with its limits (empty: none).
v1_setup() {
  local n=$1 cpus=$2 memory=$3 c d
  for c in $V1_CONTROLLERS; do
    [[ -d /sys/fs/cgroup/$c ]] || continue
    d=$(v1_dir "$c" "$n")
    mkdir -p "$d"
  done
  d=$(v1_dir cpuset "$n")
  if [[ -d $d ]]; then
    cat /sys/fs/cgroup/cpuset/cpuset.mems >"$d/cpuset.mems"
    echo "${cpus:-$(cat /sys/fs/cgroup/cpuset/cpuset.cpus)}" >"$d/cpuset.cpus" || die "cannot pin vps$n to CPUs '$cpus'"
  fi
  d=$(v1_dir memory "$n")
  if [[ -d $d && -n $memory ]]; then
    echo "$memory" >"$d/memory.limit_in_bytes" || die "cannot cap vps$n's memory at '$memory'"
  fi
}

# Moves the calling shell into VPS N's v1 groups (before it execs nspawn).
v1_join() {
  local c d
  for c in $V1_CONTROLLERS; do
    d=$(v1_dir "$c" "$1")
    [[ -d $d ]] && echo "$BASHPID" >"$d/cgroup.procs"
  done
  return 0
}

cmd_stats() {
  (($# == 1)) || usage
  check_n "$1"
  local n=$((10#$1)) d
  d=$(v1_dir cpuacct "$n")
  [[ -d $d ]] || die "vps$n has no cgroups (is it up?)"
  awk '{ printf "cpu_seconds=%.3f\n", $1 / 1e9 }' "$d/cpuacct.usage"
  printf 'cpu_usage_file=%s\n' "$d/cpuacct.usage"
  d=$(v1_dir memory "$n")
  printf 'memory_bytes=%s\nmemory_peak_bytes=%s\nmemory_limit_bytes=%s\n' \
    "$(cat "$d/memory.usage_in_bytes")" "$(cat "$d/memory.max_usage_in_bytes")" "$(cat "$d/memory.limit_in_bytes")"
  printf 'oom_kills=%s\n' "$(awk '$1 == "oom_kill" { print $2 }' "$d/memory.oom_control")"
  printf 'swap_bytes=%s\n' "$(awk '$1 == "total_swap" { print $2 }' "$d/memory.stat")"
}

# The role of a VPS's process, as the pss and cpu commands count it: synapse (any process running
# synapse.app: the main process and every worker), postgres, nginx, redis or other.
process_role() {
  local pid=$1
  if [[ $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true) == *synapse.app* ]]; then
    echo synapse
    return
  fi
  case $(cat "/proc/$pid/comm" 2>/dev/null || true) in
    postgres) echo postgres ;;
    nginx) echo nginx ;;
    redis-server) echo redis ;;
    *) echo other ;;
  esac
}

# The PIDs of VPS N's processes (every group below its memory cgroup).
vps_pids() {
  local d
  d=$(v1_dir memory "$1")
  [[ -d $d ]] || die "vps$1 has no cgroups (is it up?)"
  find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u
}

# The proportional set size of VPS N's processes now, read from the host's /proc (so measuring
# costs the VPS no CPU): in all, and for Synapse's processes, PostgreSQL's, nginx's and Redis's.
cmd_pss() {
  (($# == 1)) || usage
  check_n "$1"
  local n=$((10#$1)) pid kib role pids
  declare -A sum=([total]=0 [synapse]=0 [postgres]=0 [nginx]=0 [redis]=0)
  pids=$(vps_pids "$n")
  while read -r pid; do
    kib=$(awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup" 2>/dev/null || true)
    [[ -n $kib ]] || continue
    role=$(process_role "$pid")
    sum[total]=$((sum[total] + kib))
    [[ $role == other ]] || sum[$role]=$((sum[$role] + kib))
  done <<<"$pids"
  for role in total synapse postgres nginx redis; do printf 'pss_kib_%s=%s\n' "$role" "${sum[$role]}"; done
}

# The CPU time VPS N's processes have used so far (clock ticks), by role, read from the host's
# /proc: each process's own time and that of the children it has reaped (utime, stime, cutime,
# cstime: PostgreSQL's exited backends count in its postmaster's). Time of processes that exited
# to the VPS's init counts as other; the cgroup's total (cpu_ns_total) covers everything.
cmd_cpu() {
  (($# == 1)) || usage
  check_n "$1"
  local n=$((10#$1)) pid role stat ticks pids
  declare -A sum=([synapse]=0 [postgres]=0 [nginx]=0 [redis]=0 [other]=0)
  pids=$(vps_pids "$n")
  while read -r pid; do
    stat=$(cat "/proc/$pid/stat" 2>/dev/null || true)
    [[ -n $stat ]] || continue
    # Fields after the command name (which may hold spaces and parentheses): utime is the 12th.
    ticks=$(awk '{ print $12 + $13 + $14 + $15 }' <<<"${stat##*) }")
    role=$(process_role "$pid")
    sum[$role]=$((sum[$role] + ticks))
  done <<<"$pids"
  printf 'clock_ticks_per_s=%s\n' "$(getconf CLK_TCK)"
  printf 'cpu_ns_total=%s\n' "$(cat "$(v1_dir cpuacct "$n")/cpuacct.usage")"
  for role in synapse postgres nginx redis other; do printf 'cpu_ticks_%s=%s\n' "$role" "${sum[$role]}"; done
}

# The systemd-nspawn process of VPS N, if running.
nspawn_pid() {
  local n=$1 pid
  pid=$(cat "$RUN/vps$n/nspawn.pid" 2>/dev/null || true)
  if [[ -n $pid ]] && pid_alive "$pid" && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == systemd-nspawn ]] &&
    [[ $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) == *" $RUN/vps$n/root "* ]]; then
    echo "$pid"
    return 0
  fi
  for pid in $(cg_pids "$n"); do
    if [[ $(cat "/proc/$pid/comm" 2>/dev/null) == systemd-nspawn ]]; then
      echo "$pid"
      return 0
    fi
  done
}

vps_exists() {
  local n=$1
  [[ -d $RUN/vps$n || -n $(cg_dirs "$n") ]] || ip link show "ve-vps$n" >/dev/null 2>&1 ||
    mountpoint -q "$RUN/vps$n/root" 2>/dev/null
}

wait_gone() { # wait_gone SECONDS PID...
  local deadline=$(($(date +%s) + $1)) p any
  shift
  while :; do
    any=
    for p in "$@"; do pid_alive "$p" && any=1; done
    [[ -z $any ]] && return 0
    (($(date +%s) >= deadline)) && return 1
    sleep 0.1
  done
}

stop_vps() {
  local n=$1 npid init root pids
  npid=$(nspawn_pid "$n")
  if [[ -n $npid ]]; then
    init=$(ps -o pid= --ppid "$npid" | awk 'NR == 1 { print $1 }' || true)
    if [[ -n $init ]]; then
      kill -s RTMIN+3 "$init" 2>/dev/null || true
    else
      kill -s TERM "$npid" 2>/dev/null || true
    fi
    if ! wait_gone "$SANDBOX_STOP_TIMEOUT" "$npid"; then
      log "vps$n did not shut down within ${SANDBOX_STOP_TIMEOUT}s: killing it"
    fi
  fi
  # Whatever is left in its cgroup (a stuck container, or one orphaned by a crash) is killed.
  root=$(cg2_root) || return 0
  pids=$(cg_pids "$n")
  if [[ -n $pids ]]; then
    if [[ -f $root/$CG_PREFIX$n/cgroup.kill ]]; then
      echo 1 >"$root/$CG_PREFIX$n/cgroup.kill"
    else
      # shellcheck disable=SC2086 # word splitting of the pid list is intended
      kill -KILL $pids 2>/dev/null || true
    fi
    # shellcheck disable=SC2086
    wait_gone 10 $pids || die "processes of vps$n survived SIGKILL: $pids"
  fi
}

down_one() {
  local n=$1 d t0
  t0=$(now)
  vps_exists "$n" || return 0
  stop_vps "$n"
  d=$RUN/vps$n
  if mountpoint -q "$d/root" 2>/dev/null; then
    umount "$d/root" 2>/dev/null || umount -l "$d/root"
  fi
  if ip link show "ve-vps$n" >/dev/null 2>&1; then
    ip link delete "ve-vps$n" 2>/dev/null || true
  fi
  local cg
  for cg in $(cg_dirs "$n"); do
    find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
    [[ ! -d $cg ]] || die "cannot remove cgroup $cg (processes left?)"
  done
  if [[ -f $d/console.log ]]; then
    mkdir -p "$LOGS"
    cp "$d/console.log" "$LOGS/vps$n.console.log"
  fi
  remove_tree "$d"
  log "vps$n down ($(since "$t0") s)"
}

# Which VPS numbers exist in any form (run dir, cgroup, veth, mount), for 'down' without args.
all_ns() {
  {
    vps_dirs | sed 's#.*/vps##'
    local d
    for d in /sys/fs/cgroup/*/"$CG_PREFIX"* /sys/fs/cgroup/"$CG_PREFIX"*; do
      [[ -d $d ]] && echo "${d##*/"$CG_PREFIX"}"
    done
    ip -o link show 2>/dev/null | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | sed -n 's/^ve-vps\([0-9]\+\)$/\1/p'
    awk -v r="$RUN/vps" 'index($5, r) == 1 { print $5 }' /proc/self/mountinfo | sed -n 's#.*/vps\([0-9]\+\)/root$#\1#p'
  } | awk '/^[0-9]+$/' | sort -nu
}

ensure_key() {
  mkdir -p "$RUN"
  chmod 700 "$RUN"
  if [[ ! -f $KEY || ! -f $KEY.pub ]]; then
    rm -f "$KEY" "$KEY.pub"
    ssh-keygen -q -t ed25519 -N '' -C "synapse-sandbox" -f "$KEY"
  fi
}

# Writes VPS N's identity into its overlay: hostname, hosts, machine-id, network, SSH.
personalize() {
  local n=$1 r=$2 mhost addr
  echo "vps$n" >"$r/etc/hostname"
  mhost=$(mirror_host)
  {
    printf '127.0.0.1\tlocalhost\n127.0.1.1\tvps%s\n' "$n"
    printf '::1\t\tlocalhost ip6-localhost ip6-loopback\nff02::1\t\tip6-allnodes\nff02::2\t\tip6-allrouters\n'
    if [[ ! $mhost =~ ^[0-9.]+$ ]]; then
      echo "# sandbox: the package mirror, as the host resolves it (the VPS has no DNS)"
      for addr in $(mirror_addresses); do printf '%s\t%s\n' "$addr" "$mhost"; done
    fi
    echo "# sandbox: the language registries a VPS may reach (PyPI), as the host resolves them"
    for h in $SANDBOX_REGISTRY_HOSTS; do
      for addr in $(host_addresses "$h"); do printf '%s\t%s\n' "$addr" "$h"; done
    done
  } >"$r/etc/hosts"
  # The host's own extra CAs (an egress proxy's, say) are the VPS's too, so HTTPS to the
  # registries verifies there as it does here.
  local ca
  for ca in /usr/local/share/ca-certificates/*.crt; do
    [[ -f $ca ]] || continue
    install -D -m 644 "$ca" "$r/usr/local/share/ca-certificates/sandbox-host/$(basename "$ca")"
    cat "$ca" >>"$r/etc/ssl/certs/ca-certificates.crt"
  done
  tr -d - </proc/sys/kernel/random/uuid >"$r/etc/machine-id"
  # No DNS server on the link: lookups fail fast instead of leaving the machine.
  rm -f "$r/etc/resolv.conf"
  printf '# sandbox VPS: no DNS; the package mirror is in /etc/hosts\nnameserver %s.%s.1\n' "$NET" "$n" >"$r/etc/resolv.conf"
  mkdir -p "$r/etc/systemd/network"
  cat >"$r/etc/systemd/network/10-sandbox-host0.network" <<EOF
[Match]
Name=host0

[Network]
Address=$NET.$n.2/30
Gateway=$NET.$n.1
LinkLocalAddressing=no
IPv6AcceptRA=no
EOF
  install -d -m 700 "$r/root/.ssh"
  install -m 600 "$KEY.pub" "$r/root/.ssh/authorized_keys"
  # Unique host keys per VPS, made by the VPS's own ssh-keygen (it knows the newest key types).
  chroot "$r" ssh-keygen -A >/dev/null
}

UP_N=
UP_DONE=
# EXIT trap of 'up': a VPS that did not come up is torn down (its console log is kept).
up_exit() {
  local rc=$?
  [[ -n $UP_N && -z $UP_DONE ]] || return 0
  local n=$UP_N
  UP_N=
  if [[ -f $RUN/vps$n/console.log ]]; then
    log "vps$n failed to come up; last lines of its console:"
    tail -n 40 "$RUN/vps$n/console.log" | sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/^/  console| /' >&2
  fi
  if [[ ${SANDBOX_KEEP_FAILED:-} == 1 ]]; then
    log "SANDBOX_KEEP_FAILED=1: leaving vps$n as it is; '$0 down $n' removes it"
  else
    set +e
    down_one "$n"
    (
      lock network
      remove_network_if_idle
    )
    [[ -f $LOGS/vps$n.console.log ]] && log "console log kept at $LOGS/vps$n.console.log"
  fi
  exit "$((rc == 0 ? 1 : rc))"
}

cmd_up() {
  local n='' image=base cpus='' memory='' resume=
  while (($#)); do
    case $1 in
      --image)
        image=${2:-}
        shift
        ;;
      --image=*) image=${1#--image=} ;;
      --cpus)
        cpus=${2:-}
        shift
        ;;
      --memory)
        memory=${2:-}
        shift
        ;;
      --resume) resume=1 ;;
      -*) usage ;;
      *)
        [[ -z $n ]] || usage
        n=$1
        ;;
    esac
    shift || true
  done
  [[ -n $n ]] || usage
  check_n "$n"
  n=$((10#$n))
  [[ $image == base || $image == packages ]] || die "--image must be base or packages, got '$image'"
  require

  (
    lock golden
    build_base
    [[ $image == base ]] || build_packages
  )

  lock "vps$n"
  if [[ -n $resume ]]; then
    [[ -f $RUN/vps$n/stopped ]] || die "vps$n was not stopped with '$0 stop $n': nothing to start"
    image=$(cat "$RUN/vps$n/image")
  elif vps_exists "$n"; then
    log "cleaning up a stale vps$n first"
    down_one "$n"
  fi
  local t0 d lower root cg npid i host=$NET.$n.2
  t0=$(now)
  d=$RUN/vps$n
  mkdir -p "$d/upper" "$d/work" "$d/root"
  UP_N=$n
  trap up_exit EXIT
  echo "$image" >"$d/image"
  rm -f "$d/stopped"
  (
    lock network
    ensure_key
    ensure_network
  )
  lower=$GOLDEN/base
  [[ $image == base ]] || lower=$GOLDEN/packages:$GOLDEN/base
  mount -t overlay overlay -o "lowerdir=$lower,upperdir=$d/upper,workdir=$d/work" "$d/root"
  [[ -n $resume ]] || personalize "$n" "$d/root"

  root=$(cg2_root)
  cg=$root/$CG_PREFIX$n
  mkdir -p "$cg"
  v1_setup "$n" "$cpus" "$memory"
  # systemd 256+ in the container needs a cgroup2 directory of its own; this host's cgroup
  # hierarchy is hybrid and has no systemd to ask for one, hence the env var and the mkdir.
  (
    close_locks
    echo "$BASHPID" >"$cg/cgroup.procs"
    v1_join "$n"
    SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 exec setsid systemd-nspawn --quiet -D "$d/root" -M "vps$n" -b \
      --register=no --keep-unit --console=read-only --network-veth --link-journal=no \
      --timezone=off --resolv-conf=off
  ) </dev/null >"$d/console.log" 2>&1 &
  npid=$!
  echo "$npid" >"$d/nspawn.pid"

  for ((i = 0; i < 200; i++)); do
    ip link show "ve-vps$n" >/dev/null 2>&1 && break
    pid_alive "$npid" || die "vps$n: systemd-nspawn exited during start-up"
    sleep 0.05
  done
  ip link show "ve-vps$n" >/dev/null 2>&1 || die "vps$n: no veth ve-vps$n after 10 s"
  ip addr add "$NET.$n.1/30" dev "ve-vps$n"
  ip link set "ve-vps$n" up

  local deadline=$(($(date +%s) + SANDBOX_BOOT_TIMEOUT))
  until ssh "${SSH_OPTS[@]}" -o ConnectTimeout=2 "root@$host" true 2>/dev/null; do
    pid_alive "$npid" || die "vps$n: the container stopped while booting"
    (($(date +%s) < deadline)) || die "vps$n: ssh root@$host not ready after ${SANDBOX_BOOT_TIMEOUT}s"
    sleep 0.1
  done
  UP_DONE=1
  log "vps$n ($image) is up at $host: ssh ready $(since "$t0") s after mount"
  echo "$host"
}

# Shuts VPS N down and keeps its disk (its overlay's upper layer): `start N` boots it again.
cmd_stop() {
  (($# == 1)) || usage
  check_n "$1"
  local n=$((10#$1)) d cg
  require
  lock "vps$n"
  d=$RUN/vps$n
  [[ -d $d/upper ]] || die "vps$n is not up"
  stop_vps "$n"
  if mountpoint -q "$d/root" 2>/dev/null; then umount "$d/root" 2>/dev/null || umount -l "$d/root"; fi
  ip link delete "ve-vps$n" 2>/dev/null || true
  for cg in $(cg_dirs "$n"); do find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true; done
  rm -rf "$d/work"
  touch "$d/stopped"
  log "vps$n stopped (its disk kept: '$0 start $n' boots it again)"
}

cmd_down() {
  local n ns=()
  require
  if (($#)); then
    for n in "$@"; do
      check_n "$n"
      ns+=("$((10#$n))")
    done
  else
    mapfile -t ns < <(all_ns)
  fi
  # In parallel: each VPS takes a few seconds to shut down.
  local pids=() p failed=
  for n in "${ns[@]}"; do
    (
      lock "vps$n"
      down_one "$n"
    ) &
    pids+=("$!")
  done
  for p in "${pids[@]}"; do wait "$p" || failed=1; done
  lock network
  remove_network_if_idle
  [[ -z $failed ]] || die "some VPSes could not be torn down completely (see above)"
}

cmd_ssh() {
  (($#)) || usage
  check_n "$1"
  local n=$((10#$1))
  shift
  [[ -d $RUN/vps$n ]] || die "vps$n is not running (start it with: $0 up $n)"
  exec ssh "${SSH_OPTS[@]}" -o ConnectTimeout=10 "root@$NET.$n.2" "$@"
}

cmd_status() {
  local d n pid state any=
  for d in $(vps_dirs); do
    n=${d##*/vps}
    pid=$(nspawn_pid "$n")
    state=running
    [[ -n $pid ]] || state="STOPPED (stale: run '$0 down $n')"
    printf 'vps%-4s %-15s image=%-9s %s\n' "$n" "$NET.$n.2" "$(cat "$d/image" 2>/dev/null || echo '?')" "$state"
    any=1
  done
  [[ -n $any ]] || echo "no VPS running"
}

cmd_check() {
  local why
  why=$(why_unavailable)
  if [[ -n $why ]]; then
    echo "$why" >&2
    exit 1
  fi
  echo ok
}

main() {
  (($#)) || usage
  local cmd=$1
  shift
  case $cmd in
    golden) cmd_golden "$@" ;;
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    stop) cmd_stop "$@" ;;
    start) cmd_up "$@" --resume ;;
    stats) cmd_stats "$@" ;;
    pss) cmd_pss "$@" ;;
    cpu) cmd_cpu "$@" ;;
    ssh) cmd_ssh "$@" ;;
    status) cmd_status "$@" ;;
    check) cmd_check "$@" ;;
    -h | --help | help) usage 0 ;;
    *) usage ;;
  esac
}

main "$@"
