#!/bin/sh
# capture.sh: capture one Pod's packets from a Job pod on the Pod's node.
#
# Carried by the ConfigMap the function renders (key capture.sh) and run by the Job as
#   /bin/sh /etc/packet-capture/capture.sh
# POSIX sh only: it runs under dash, bash and busybox ash.
#
# Settings: one file per setting in the directory this script lives in (the ConfigMap's keys),
# read as data, never sourced:
#   duration-seconds   capture length, integer seconds (required)
#   output-dir         where the PCAPs go, absolute path (required)
#   job-id             names the files (required)
#   interface          tcpdump -i, default "any"
#   snaplen            tcpdump -s, default 262144
#   filter             BPF expression, may be empty; passed to tcpdump as one argument
#   max-file-size-mb   tcpdump -C (millions of bytes), 0 or absent = no cap
#   max-files          tcpdump -W (only with a size cap), 0 or absent = no limit
#   retention-seconds  after the capture, stay alive this long so `kubectl cp` works; ends early
#                      when <output-dir>/.retrieved appears; 0 or absent = exit at once
#   proc-root          where to look for the target Pod's processes, default /proc
#   target-namespace   the target Pod's namespace (the env TARGET_POD_NAMESPACE overrides it)
# Environment: TARGET_POD_NAME, TARGET_POD_UID (required), TARGET_POD_NAMESPACE,
#   TARGET_POD_IP, TARGET_NODE_NAME (only reported).
#
# Result: a summary on stdout and in ${TERMINATION_LOG:-/dev/termination-log}, under 4 KiB.
# Its first line is key=value pairs, status first:
#   status=ok files=2 bytes=123456 packets=1000 received=1000 dropped=0 start=20261124T101500Z
# followed by the PCAP file names (relative to output-dir), or for an error by the message.
# Exit codes:
#   0   the capture ran for its duration (status=ok)
#   2   bad settings or environment (status=bad-settings; the message names the setting)
#   3   no process of the target Pod under proc-root: Pod gone or not on this node
#       (status=pod-not-found)
#   4   tcpdump (or nsenter) failed to start or exited with an error (status=tcpdump-failed)
#   143 SIGTERM/SIGINT before the duration ended; tcpdump was stopped with SIGINT, files are
#       complete up to that moment (status=interrupted)
# <output-dir>/.capture-complete is created once the files are closed.

set -eu
LC_ALL=C
export LC_ALL
umask 022

EX_SETTINGS=2
EX_NOPOD=3
EX_TCPDUMP=4
EX_INTERRUPTED=143
SUMMARY_MAX=3900

term_log=${TERMINATION_LOG:-/dev/termination-log}
case $0 in
*/*) settings_dir=${0%/*} ;;
*) settings_dir=. ;;
esac

# report TEXT: print the summary to stdout and write it to the termination log (best effort).
report() {
	printf '%s\n' "$1"
	(printf '%s\n' "$1" >"$term_log") 2>/dev/null || true
}

# die EXIT STATUS MESSAGE: report a failure and exit.
die() {
	printf 'capture: %s\n' "$3" >&2
	report "$(printf 'status=%s\n%.3500s' "$2" "$3")"
	exit "$1"
}

# setting NAME [DEFAULT]: the setting's value in $REPLY. Without a default it is required.
setting() {
	if [ -f "$settings_dir/$1" ]; then
		REPLY=$(cat "$settings_dir/$1") ||
			die "$EX_SETTINGS" bad-settings "setting $1: cannot read $settings_dir/$1"
	elif [ $# -ge 2 ]; then
		REPLY=$2
	else
		die "$EX_SETTINGS" bad-settings "setting $1: missing (no file $settings_dir/$1)"
	fi
}

# uint_setting NAME DEFAULT MIN MAX: an integer setting in $REPLY.
uint_setting() {
	if [ -n "$2" ]; then setting "$1" "$2"; else setting "$1"; fi
	case $REPLY in
	'' | *[!0-9]* | ?????????*)
		die "$EX_SETTINGS" bad-settings "setting $1: \"$REPLY\" is not an integer from $3 to $4"
		;;
	esac
	REPLY=$((REPLY + 0))
	if [ "$REPLY" -lt "$3" ] || [ "$REPLY" -gt "$4" ]; then
		die "$EX_SETTINGS" bad-settings "setting $1: $REPLY is not an integer from $3 to $4"
	fi
}

# safe_name VALUE MAXLEN: VALUE reduced to [A-Za-z0-9.-] (others become _), cut to MAXLEN, not
# starting with a dot, in $REPLY. File names are built only from such pieces, so they cannot
# leave output-dir.
safe_name() {
	REPLY=$(printf '%s' "$1" | tr -c 'A-Za-z0-9.-' '_')
	REPLY=$(printf '%.*s' "$2" "$REPLY" 2>/dev/null) || REPLY=$(printf '%s' "$REPLY" | cut -c "1-$2")
	case $REPLY in
	'') REPLY=_ ;;
	.*) REPLY="_${REPLY#.}" ;; # never a hidden file
	esac
}

# --- settings ---------------------------------------------------------------------------------

uint_setting duration-seconds '' 1 86400
duration=$REPLY
setting output-dir
output_dir=$REPLY
case $output_dir in
/*) ;;
*) die "$EX_SETTINGS" bad-settings "setting output-dir: \"$output_dir\" is not an absolute path" ;;
esac
setting job-id
job_id=$REPLY
if [ -z "$job_id" ]; then die "$EX_SETTINGS" bad-settings "setting job-id: empty"; fi
setting interface any
interface=$REPLY
case $interface in
'' | -* | *[!A-Za-z0-9._:@-]*)
	die "$EX_SETTINGS" bad-settings "setting interface: \"$interface\" is not an interface name"
	;;
esac
uint_setting snaplen 262144 1 262144
snaplen=$REPLY
setting filter ''
filter=$REPLY
uint_setting max-file-size-mb 0 0 1000000
max_mb=$REPLY
uint_setting max-files 0 0 100000
max_files=$REPLY
uint_setting retention-seconds 0 0 604800
retention=$REPLY
setting proc-root /proc
proc_root=$REPLY
case $proc_root in
/*) ;;
*) die "$EX_SETTINGS" bad-settings "setting proc-root: \"$proc_root\" is not an absolute path" ;;
esac

setting target-namespace ''
pod_name=${TARGET_POD_NAME:-}
pod_ns=${TARGET_POD_NAMESPACE:-$REPLY}
pod_uid=${TARGET_POD_UID:-}
pod_ip=${TARGET_POD_IP:-}
node_name=${TARGET_NODE_NAME:-}
if [ -z "$pod_name" ]; then die "$EX_SETTINGS" bad-settings "env TARGET_POD_NAME: empty"; fi
if [ -z "$pod_ns" ]; then die "$EX_SETTINGS" bad-settings "setting target-namespace: empty"; fi
case $pod_uid in
'' | *[!0-9A-Za-z-]* | -*)
	die "$EX_SETTINGS" bad-settings "env TARGET_POD_UID: \"$pod_uid\" is not a Pod uid"
	;;
esac
if [ "${#pod_uid}" -lt 8 ] || [ "${#pod_uid}" -gt 64 ]; then
	die "$EX_SETTINGS" bad-settings "env TARGET_POD_UID: \"$pod_uid\" is not a Pod uid"
fi

safe_name "$pod_ns" 63
safe_ns=$REPLY
safe_name "$pod_name" 100
safe_pod=$REPLY
safe_name "$job_id" 16
safe_job=$REPLY
target="$pod_ns/$pod_name (uid $pod_uid${pod_ip:+, ip $pod_ip})"

# --- signals ----------------------------------------------------------------------------------

# tcpdump_pid is set only while tcpdump runs, so a late signal never hits a reused pid.
tcpdump_pid=
interrupted=0
signals=0
# shellcheck disable=SC2317 # called by the trap
on_signal() {
	interrupted=1
	signals=$((signals + 1))
	if [ -n "$tcpdump_pid" ]; then kill -INT "$tcpdump_pid" 2>/dev/null || true; fi
}
trap on_signal TERM INT

# --- find the target Pod's network namespace --------------------------------------------------

# The kubelet names the Pod's cgroup with the uid as it is (cgroupfs driver:
# .../kubepods/burstable/pod<uid>/<container>) or with _ for - (systemd driver:
# ...kubepods-burstable-pod<uid_>.slice/cri-containerd-<id>.scope or crio-<id>.scope).
# The uid is checked above to hold only [0-9A-Za-z-], so it is safe inside a pattern.
pod_uid_us=$(printf '%s' "$pod_uid" | tr '-' '_')
pattern="[-/]pod($pod_uid|$pod_uid_us)(\\.slice|/|\$)"
matches=$(grep -lE -e "$pattern" "$proc_root"/[0-9]*/cgroup 2>/dev/null) || true

# Any process of the Pod shares its network namespace, except CRI-O's conmon, which may sit in
# the Pod's cgroup (conmon_cgroup = "pod") but lives in the host's: skip it. Prefer an app
# process to the pause/infra process when both are there.
pid=
infra_pid=
while IFS= read -r f; do
	if [ -z "$f" ]; then continue; fi
	d=${f%/cgroup}
	p=${d##*/}
	if [ ! -e "$d/ns/net" ]; then continue; fi
	if grep -q -e 'crio-conmon-' "$f" 2>/dev/null; then continue; fi
	comm=
	if [ -r "$d/comm" ]; then comm=$(cat "$d/comm" 2>/dev/null) || comm=; fi
	case $comm in
	conmon) continue ;;
	pause | pod) if [ -z "$infra_pid" ]; then infra_pid=$p; fi ;;
	*)
		pid=$p
		break
		;;
	esac
done <<EOF
$matches
EOF
if [ -z "$pid" ]; then pid=$infra_pid; fi
if [ -z "$pid" ]; then
	die "$EX_NOPOD" pod-not-found "pod $target: no process under $proc_root has this pod uid in its cgroup; the Pod is gone or does not run on ${node_name:+node }${node_name:-this node}"
fi
netns="$proc_root/$pid/ns/net"

# --- capture ----------------------------------------------------------------------------------

mkdir -p "$output_dir" 2>/dev/null || true
if [ ! -d "$output_dir" ] || [ ! -w "$output_dir" ]; then
	die "$EX_SETTINGS" bad-settings "setting output-dir: $output_dir is not a writable directory"
fi
rm -f "$output_dir/.capture-complete" "$output_dir/.retrieved"

start=$(date -u +%Y%m%dT%H%M%SZ)
base="${safe_ns}_${safe_pod}_${safe_job}_${start}.pcap"
log=$(mktemp 2>/dev/null) || log="$output_dir/.$base.log"
: >"$log"

if [ "$interrupted" -ne 0 ]; then
	rm -f "$log"
	report "$(printf 'status=interrupted files=0 bytes=0 packets=0 received=0 dropped=0 start=%s' "$start")"
	exit "$EX_INTERRUPTED"
fi

# has_cap N: whether this shell (and so tcpdump) has capability number N (N < 8) in effect.
has_cap() {
	eff=$(sed -n -e 's/^CapEff:[[:space:]]*\([0-9a-fA-F]*\)$/\1/p' /proc/self/status 2>/dev/null) || eff=
	case $eff in
	'' | ?) return 0 ;; # unknown: assume a full set
	esac
	eff=${eff#"${eff%??}"}
	[ $((0x$eff >> $1 & 1)) -eq 1 ]
}

# -Z root: tcpdump built with a default user (Debian, RHEL) otherwise drops to it and can no
# longer open rotated files. Staying root goes through initgroups(), which needs CAP_SETGID (6);
# without it -Z is left out, which works for builds without a default user (e.g. Alpine's).
# -U: write every packet at once, so an abrupt end loses nothing.
# --: the filter is one argument after it and can never be read as an option (e.g. -z).
set -- -i "$interface" -s "$snaplen" -n -U
if has_cap 6; then set -- "$@" -Z root; fi
set -- "$@" -w "$output_dir/$base"
if [ "$max_mb" -gt 0 ]; then
	set -- "$@" -C "$max_mb"
	if [ "$max_files" -gt 0 ]; then set -- "$@" -W "$max_files"; fi
fi
set -- "$@" --
if [ -n "$filter" ]; then set -- "$@" "$filter"; fi

printf 'capture: pod %s via pid %s on node %s: %s s into %s/%s\n' \
	"$target" "$pid" "${node_name:-?}" "$duration" "$output_dir" "$base"
nsenter --net="$netns" -- tcpdump "$@" </dev/null >>"$log" 2>&1 &
tcpdump_pid=$!

# The timer counts the duration from the moment tcpdump listens, then stops it with SIGINT
# (tcpdump closes its files on SIGINT). It never waits for "listening" longer than 10 s.
(
	sleeper=
	trap 'if [ -n "$sleeper" ]; then kill "$sleeper" 2>/dev/null; fi; exit 0' TERM
	n=0
	while [ "$n" -lt 200 ] && ! grep -q 'listening on' "$log" 2>/dev/null; do
		sleep 0.05 2>/dev/null || sleep 1
		n=$((n + 1))
	done
	sleep "$duration" &
	sleeper=$!
	wait "$sleeper"
	kill -INT "$tcpdump_pid" 2>/dev/null || true
) &
timer_pid=$!

# A trapped signal makes wait return early (status > 128): then wait again for tcpdump itself.
while :; do
	before=$signals
	rc=0
	wait "$tcpdump_pid" || rc=$?
	if [ "$rc" -gt 128 ] && [ "$signals" -ne "$before" ]; then continue; fi
	break
done
tcpdump_pid=
kill -TERM "$timer_pid" 2>/dev/null || true
wait "$timer_pid" 2>/dev/null || true

if [ "$rc" -ne 0 ]; then
	why=$(grep -v -e '^$' -e 'listening on' -e 'data link type' "$log" | tail -n 8) || why=
	case $why in
	*"Couldn't change"*) why="$why (tcpdump needs CAP_SETGID to keep root, or CAP_SETUID, CAP_SETGID and CAP_CHOWN to switch users)" ;;
	esac
	rm -f "$log"
	if [ ! -e "$netns" ]; then
		die "$EX_NOPOD" pod-not-found "pod $target: its network namespace $netns is gone, and so is the Pod"
	fi
	die "$EX_TCPDUMP" tcpdump-failed "pod $target: tcpdump exited with status $rc: $why"
fi

# tcpdump's closing lines: "N packets captured", "N packets received by filter",
# "N packets dropped by kernel" ("packet" when N is 1).
count() {
	REPLY=$(sed -n -e "s/^\\([0-9][0-9]*\\) packets* $1\$/\\1/p" "$log" | tail -n 1)
	if [ -z "$REPLY" ]; then REPLY=0; fi
}
count captured
packets=$REPLY
count 'received by filter'
received=$REPLY
count 'dropped by kernel'
dropped=$REPLY
rm -f "$log"

nfiles=0
bytes=0
names=
for f in "$output_dir/$base"*; do
	if [ ! -f "$f" ]; then continue; fi
	size=$(wc -c <"$f")
	bytes=$((bytes + size))
	nfiles=$((nfiles + 1))
	names="$names
${f##*/}"
done

status=ok
if [ "$interrupted" -ne 0 ]; then status=interrupted; fi
head=$(printf 'status=%s files=%s bytes=%s packets=%s received=%s dropped=%s start=%s' \
	"$status" "$nfiles" "$bytes" "$packets" "$received" "$dropped" "$start")

# Keep the summary under the kubelet's 4 KiB: list names while they fit, then count the rest.
summary=$head
left=$nfiles
while IFS= read -r name; do
	if [ -z "$name" ]; then continue; fi
	if [ $((${#summary} + ${#name} + 40)) -gt "$SUMMARY_MAX" ]; then
		summary="$summary
... and $left more"
		break
	fi
	summary="$summary
$name"
	left=$((left - 1))
done <<EOF
$names
EOF

: >"$output_dir/.capture-complete"
report "$summary"

if [ "$interrupted" -ne 0 ]; then exit "$EX_INTERRUPTED"; fi

# --- retention (Pod-volume sink) -------------------------------------------------------------

if [ "$retention" -gt 0 ]; then
	printf 'capture: keeping the files for %s s; create %s/.retrieved to end sooner\n' \
		"$retention" "$output_dir"
	waited=0
	while [ "$waited" -lt "$retention" ] && [ ! -e "$output_dir/.retrieved" ] &&
		[ "$interrupted" -eq 0 ]; do
		sleep 1 &
		sleeper=$!
		wait "$sleeper" || kill "$sleeper" 2>/dev/null || true
		waited=$((waited + 1))
	done
fi
exit 0
