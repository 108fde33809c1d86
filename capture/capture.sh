#!/bin/sh
# capture.sh: capture the packets of one or more Pods from a Job pod on their node.
#
# Carried by the ConfigMap the function renders (key capture.sh) and run by the Job as
#   /bin/sh /etc/packet-capture/capture.sh <pod-name>/<pod-uid> [<pod-name>/<pod-uid> ...]
# one argument per target Pod, at least one: one in Pod mode, every target Pod of the node in
# node mode. A name is a DNS-1123 subdomain ([a-z0-9.-], at most 253), a uid 8 to 64 of
# [0-9A-Za-z-]; anything else is refused (exit 2), never spliced into a command.
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
#   max-file-size-mb   tcpdump -C (millions of bytes), per target Pod; 0 or absent = no cap
#   max-files          tcpdump -W (only with a size cap), per target Pod; 0 or absent = no limit
#   retention-seconds  after the capture, stay alive this long so `kubectl cp` works; ends early
#                      when <output-dir>/.retrieved appears; 0 or absent = exit at once
#   proc-root          where to look for the target Pods' processes, default /proc
#   target-namespace   the target Pods' namespace (the env TARGET_POD_NAMESPACE overrides it)
# Environment (optional): TARGET_POD_NAMESPACE, TARGET_NODE_NAME (only reported).
#
# Every target Pod's network namespace is found first (a process with the Pod's uid in its
# cgroup). Then one tcpdump per found Pod runs in that Pod's namespace, all with the same
# settings; one timer counts the duration from the moment all of them listen (waiting at most
# 10 s for that) and then stops them all with SIGINT, so they close their files (one that never
# started listening gets SIGTERM, which ends it before it has opened a file). A Pod's files:
#   <namespace>_<pod>_<job-id>_<UTC start>.pcap   (tcpdump's rotation number after it with -C)
# A Pod that is not found, or whose tcpdump fails, does not stop the others.
#
# Result: a summary on stdout and in ${TERMINATION_LOG:-/dev/termination-log}, under 4 KiB.
# Its first line is key=value pairs, status first, totals over all target Pods:
#   status=ok files=2 bytes=123456 packets=1000 received=1000 dropped=0 start=20261124T101500Z targets=2 failed=0
# status is ok, pod-not-found or tcpdump-failed (that of the first failed target Pod in
# argument order), interrupted or bad-settings. Then one line per failed target Pod,
#   <pod>: <status>: <reason>
# then the PCAP file names (relative to output-dir), as many as fit, then "... and N more" for
# the N lines left out. For bad-settings the second line is the message, naming the setting
# or the argument.
# Exit codes:
#   0   every target Pod was captured for the duration (status=ok)
#   2   bad settings or arguments (status=bad-settings); nothing was captured
#   3   the first failed target Pod (in argument order) has no process under proc-root, or its
#       network namespace vanished: Pod gone or not on this node (pod-not-found)
#   4   the first failed target Pod's tcpdump (or nsenter) failed to start or exited with an
#       error (tcpdump-failed)
#   143 SIGTERM/SIGINT before the duration ended; every tcpdump was stopped as at the end, files
#       are complete up to that moment (status=interrupted); no retention window
# With 3 or 4 the other target Pods were captured for the whole duration, and the script exits
# only after them and, when there are files, after the retention window. No tcpdump outlives
# the script. <output-dir>/.capture-complete is created once every file is closed and the
# summary is written, before the retention window.

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
pod_ns=${TARGET_POD_NAMESPACE:-$REPLY}
node_name=${TARGET_NODE_NAME:-}
if [ -z "$pod_ns" ]; then die "$EX_SETTINGS" bad-settings "setting target-namespace: empty"; fi

safe_name "$pod_ns" 63
safe_ns=$REPLY
safe_name "$job_id" 16
safe_job=$REPLY

# --- arguments: the target Pods ---------------------------------------------------------------

if [ $# -eq 0 ]; then
	die "$EX_SETTINGS" bad-settings "arguments: none; the Job passes one argument <pod-name>/<pod-uid> per target Pod"
fi
# Checked before anything runs: a bad argument stops the whole Job, as a bad setting does. The
# names and uids that pass hold only [0-9A-Za-z.-], so they are safe in patterns and file names.
i=0
seen='
'
for arg in "$@"; do
	i=$((i + 1))
	what="argument $i \"$arg\""
	case $arg in
	*/*) ;;
	*) die "$EX_SETTINGS" bad-settings "$what: not <pod-name>/<pod-uid>" ;;
	esac
	name=${arg%%/*}
	uid=${arg#*/}
	case $name in
	'' | *[!a-z0-9.-]* | [.-]* | *[.-])
		die "$EX_SETTINGS" bad-settings "$what: \"$name\" is not a Pod name (a DNS-1123 subdomain)"
		;;
	esac
	if [ "${#name}" -gt 253 ]; then
		die "$EX_SETTINGS" bad-settings "$what: the Pod name is longer than 253 characters"
	fi
	case $uid in
	'' | *[!0-9A-Za-z-]* | -*)
		die "$EX_SETTINGS" bad-settings "$what: \"$uid\" is not a Pod uid"
		;;
	esac
	if [ "${#uid}" -lt 8 ] || [ "${#uid}" -gt 64 ]; then
		die "$EX_SETTINGS" bad-settings "$what: \"$uid\" is not a Pod uid"
	fi
	case $seen in
	*"
$name
"*) die "$EX_SETTINGS" bad-settings "$what: Pod $name is named twice" ;;
	esac
	seen="$seen$name
"
done
seen=

# --- output and work directories --------------------------------------------------------------

mkdir -p "$output_dir" 2>/dev/null || true
if [ ! -d "$output_dir" ] || [ ! -w "$output_dir" ]; then
	die "$EX_SETTINGS" bad-settings "setting output-dir: $output_dir is not a writable directory"
fi
rm -f "$output_dir/.capture-complete" "$output_dir/.retrieved"

# The work directory holds, per target Pod (by argument number i): i.pid (the process whose
# network namespace is used), i.base (the file name), i.log (tcpdump's messages) and i.rc
# (tcpdump's exit status, written by the Pod's runner just before it ends).
work=$(mktemp -d 2>/dev/null) || work=
if [ -z "$work" ] || [ ! -d "$work" ]; then
	work="$output_dir/.capture-work.$$"
	mkdir "$work" 2>/dev/null ||
		die "$EX_SETTINGS" bad-settings "setting output-dir: cannot make a work directory $work"
fi

# --- signals and the end ----------------------------------------------------------------------

# runners are "i:pid" of the background runners not yet waited for; a runner lives until it
# has written i.rc, so one with no i.rc can be signalled without hitting a reused pid.
# The functions the traps call use variables of their own: a trap may run in any loop.
runners=
timer_pid=
interrupted=0
signals=0

# stop_runners: ask every runner still capturing to stop its tcpdump. A signal that reaches a
# runner before it has set its trap is lost, so .stop says it too: a runner looks at it once
# its trap is set.
stop_runners() {
	: >"$work/.stop" 2>/dev/null || true
	for sr in $runners; do
		if [ ! -e "$work/${sr%%:*}.rc" ]; then kill -TERM "${sr#*:}" 2>/dev/null || true; fi
	done
}

# stop_timer: end the timer, unless it ended by itself (it writes .timer-done before that).
stop_timer() {
	if [ -n "$timer_pid" ]; then
		if [ ! -e "$work/.timer-done" ]; then kill -TERM "$timer_pid" 2>/dev/null || true; fi
		wait "$timer_pid" 2>/dev/null || true
		timer_pid=
	fi
}

# shellcheck disable=SC2317 # called by the trap
on_signal() {
	interrupted=1
	signals=$((signals + 1))
	stop_runners
}
trap on_signal TERM INT

# shellcheck disable=SC2317 # called by the trap
on_exit() {
	# Never leave a tcpdump behind, whatever ends the script.
	if [ -n "$runners" ]; then
		stop_runners
		for er in $runners; do wait "${er#*:}" 2>/dev/null || true; done
		runners=
	fi
	stop_timer
	if [ -n "$work" ]; then rm -rf "$work" 2>/dev/null || true; fi
}
trap on_exit EXIT

# --- find the target Pods' network namespaces -------------------------------------------------

start=$(date -u +%Y%m%dT%H%M%SZ)

# The kubelet names the Pod's cgroup with the uid as it is (cgroupfs driver:
# .../kubepods/burstable/pod<uid>/<container>) or with _ for - (systemd driver:
# ...kubepods-burstable-pod<uid_>.slice/cri-containerd-<id>.scope or crio-<id>.scope).
# One grep over all processes finds every target Pod's: file:match lines.
: >"$work/patterns"
for arg in "$@"; do
	uid=${arg#*/}
	uid_us=$(printf '%s' "$uid" | tr '-' '_')
	printf '%s\n' "[-/]pod($uid|$uid_us)(\\.slice|/|\$)" >>"$work/patterns"
done
matches=$(grep -HoE -f "$work/patterns" "$proc_root"/[0-9]*/cgroup 2>/dev/null) || true

# Any process of the Pod shares its network namespace, except CRI-O's conmon, which may sit in
# the Pod's cgroup (conmon_cgroup = "pod") but lives in the host's: skip it. Prefer an app
# process to the pause/infra process when both are there.
i=0
nfound=0
used_names=' '
for arg in "$@"; do
	i=$((i + 1))
	name=${arg%%/*}
	uid=${arg#*/}
	uid_us=$(printf '%s' "$uid" | tr '-' '_')
	# Pod names hold only [a-z0-9.-]: a long one is cut for the file name, and a cut that
	# meets another keeps them apart with the argument number.
	safe_pod=$name
	if [ "${#name}" -gt 100 ]; then safe_pod=$(printf '%.100s' "$name"); fi
	case $used_names in
	*" $safe_pod "*) safe_pod="$safe_pod-$i" ;;
	esac
	used_names="$used_names$safe_pod "
	printf '%s\n' "${safe_ns}_${safe_pod}_${safe_job}_$start.pcap" >"$work/$i.base"

	files=
	if [ -n "$matches" ]; then
		files=$(printf '%s\n' "$matches" |
			grep -E -e ":[-/]pod($uid|$uid_us)(\\.slice|/)?\$" | sed -e 's/:[^:]*$//') || files=
	fi
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
$files
EOF
	if [ -z "$pid" ]; then pid=$infra_pid; fi
	if [ -n "$pid" ]; then
		printf '%s\n' "$pid" >"$work/$i.pid"
		nfound=$((nfound + 1))
	fi
done
matches=

# --- capture ----------------------------------------------------------------------------------

if [ "$interrupted" -ne 0 ]; then
	report "$(printf 'status=interrupted files=0 bytes=0 packets=0 received=0 dropped=0 start=%s targets=%s failed=0' "$start" "$#")"
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
keep_root=0
if has_cap 6; then keep_root=1; fi

# run_target I NETNS FILE: the runner of target I, run in the background: tcpdump in the
# network namespace NETNS writing FILE, until tcpdump ends; a SIGTERM to the runner (or .stop)
# stops tcpdump. Then it writes tcpdump's exit status to I.rc and ends.
run_target() {
	ri=$1
	tpid=
	sigs=0
	stop=0
	nagger=
	trap 'stop=1; sigs=$((sigs + 1))' TERM

	# -U: write every packet at once, so an abrupt end loses nothing.
	# --: the filter is one argument after it and can never be read as an option (e.g. -z).
	netns=$2
	file=$3
	set -- -i "$interface" -s "$snaplen" -n -U
	if [ "$keep_root" -eq 1 ]; then set -- "$@" -Z root; fi
	set -- "$@" -w "$output_dir/$file"
	if [ "$max_mb" -gt 0 ]; then
		set -- "$@" -C "$max_mb"
		if [ "$max_files" -gt 0 ]; then set -- "$@" -W "$max_files"; fi
	fi
	set -- "$@" --
	if [ -n "$filter" ]; then set -- "$@" "$filter"; fi

	nsenter --net="$netns" -- tcpdump "$@" </dev/null >>"$work/$ri.log" 2>&1 &
	tpid=$!
	if [ -e "$work/.stop" ]; then stop=1; fi
	# A trapped signal makes wait return early (status > 128): then stop tcpdump, once, and
	# wait again.
	while :; do
		if [ "$stop" -ne 0 ] && [ -z "$nagger" ]; then
			if grep -q 'listening on' "$work/$ri.log" 2>/dev/null; then
				# It listens, so it handles SIGINT: it closes its files and ends.
				kill -INT "$tpid" 2>/dev/null || true
				nagger=none
			else
				# Not yet listening, it may not handle SIGINT yet (a background command starts
				# with SIGINT ignored), but SIGTERM ends it at once, before it opens its file.
				# A signal that reaches its process between fork and exec is lost: repeat it
				# until tcpdump has ended (the runner writes I.rc at once then).
				(
					while :; do
						if grep -q 'listening on' "$work/$ri.log" 2>/dev/null; then
							kill -INT "$tpid" 2>/dev/null || true
						else
							kill -TERM "$tpid" 2>/dev/null || true
						fi
						sleep 0.5 2>/dev/null || sleep 1
						if [ -e "$work/$ri.rc" ]; then break; fi
					done
				) &
				nagger=$!
			fi
		fi
		before=$sigs
		rc=0
		wait "$tpid" || rc=$?
		if [ "$rc" -gt 128 ] && [ "$sigs" -ne "$before" ]; then continue; fi
		break
	done
	tpid=
	printf '%s\n' "$rc" >"$work/$ri.rc"
	case $nagger in
	'' | none) ;;
	*)
		kill "$nagger" 2>/dev/null || true
		wait "$nagger" 2>/dev/null || true
		;;
	esac
}

i=0
unready=
for arg in "$@"; do
	i=$((i + 1))
	if [ ! -e "$work/$i.pid" ]; then continue; fi
	read -r pid <"$work/$i.pid"
	read -r base <"$work/$i.base"
	: >"$work/$i.log"
	printf 'capture: pod %s via pid %s on node %s: %s s into %s/%s\n' \
		"$pod_ns/${arg%%/*} (uid ${arg#*/})" "$pid" "${node_name:-?}" "$duration" "$output_dir" "$base"
	# Its stderr would only say that a shell reaped a tcpdump ended by SIGTERM.
	run_target "$i" "$proc_root/$pid/ns/net" "$base" 2>/dev/null &
	runners="$runners $i:$!"
	unready="$unready $i"
done
# A signal while the runners started: stop those it did not reach.
if [ "$interrupted" -ne 0 ]; then stop_runners; fi

# all_ready: whether every tcpdump listens or has ended. The ones found so are dropped from
# $unready, so a poll looks only at the first one still starting.
all_ready() {
	# shellcheck disable=SC2086 # argument numbers only
	set -- $unready
	while [ $# -gt 0 ]; do
		if [ -e "$work/$1.rc" ] || grep -q 'listening on' "$work/$1.log" 2>/dev/null; then
			shift
			continue
		fi
		break
	done
	unready=$*
	[ $# -eq 0 ]
}

# The timer counts the duration from the moment every tcpdump listens, then stops them all
# with SIGINT (tcpdump closes its files on SIGINT). It never waits for "listening" longer than
# 10 s; a tcpdump that never listens is ended with SIGTERM when the others stop.
if [ -n "$runners" ] && [ "$interrupted" -eq 0 ]; then
	step=0.05
	n=0
	while [ "$n" -lt 200 ] && [ "$interrupted" -eq 0 ] && ! all_ready; do
		if ! sleep "$step" 2>/dev/null; then
			# No fractional sleep: still 10 s in all.
			step=1
			n=$((n + 19))
			sleep 1
		fi
		n=$((n + 1))
	done
	if [ "$interrupted" -eq 0 ]; then
		(
			sleeper=
			trap 'if [ -n "$sleeper" ]; then kill "$sleeper" 2>/dev/null; fi; exit 0' TERM
			sleep "$duration" &
			sleeper=$!
			wait "$sleeper" || true
			sleeper=
			stop_runners
			: >"$work/.timer-done"
		) &
		timer_pid=$!
	fi
fi

# Wait for every runner. A trapped signal makes wait return early: then wait again.
for r in $runners; do
	while :; do
		before=$signals
		rc=0
		wait "${r#*:}" || rc=$?
		if [ "$rc" -gt 128 ] && [ "$signals" -ne "$before" ]; then continue; fi
		break
	done
done
runners=
stop_timer

# --- results ----------------------------------------------------------------------------------

# counts I: tcpdump's closing lines in I.log, "N packets captured", "N packets received by
# filter", "N packets dropped by kernel" ("packet" when N is 1), added to the totals.
packets=0
received=0
dropped=0
counts() {
	sed -n -e 's/^\([0-9][0-9]*\) packets* captured$/captured \1/p' \
		-e 's/^\([0-9][0-9]*\) packets* received by filter$/received \1/p' \
		-e 's/^\([0-9][0-9]*\) packets* dropped by kernel$/dropped \1/p' \
		"$work/$1.log" >"$work/counts" 2>/dev/null || : >"$work/counts"
	while read -r what n; do
		case $what in
		captured) packets=$((packets + n)) ;;
		received) received=$((received + n)) ;;
		dropped) dropped=$((dropped + n)) ;;
		esac
	done <"$work/counts"
}

# A failed target Pod: its line for the summary, and the status and exit code of the first.
status=ok
code=0
nfailed=0
failures=
fail() {
	reason=$(printf '%.400s' "$4")
	printf 'capture: pod %s: %s\n' "$pod_ns/$1" "$reason" >&2
	failures="$failures
$1: $3: $reason"
	nfailed=$((nfailed + 1))
	if [ "$code" -eq 0 ]; then
		code=$2
		status=$3
	fi
}

nfiles=0
bytes=0
names=
i=0
for arg in "$@"; do
	i=$((i + 1))
	name=${arg%%/*}
	uid=${arg#*/}
	if [ ! -e "$work/$i.pid" ]; then
		fail "$name" "$EX_NOPOD" pod-not-found "no process under $proc_root has pod uid $uid in its cgroup: the Pod is gone or does not run on ${node_name:+node }${node_name:-this node}"
		continue
	fi
	read -r pid <"$work/$i.pid"
	read -r base <"$work/$i.base"
	rc=
	if [ -e "$work/$i.rc" ]; then read -r rc <"$work/$i.rc" || rc=; fi
	counts "$i"
	if [ "$rc" != 0 ] && [ "$interrupted" -eq 0 ]; then
		why=$(grep -v -e '^$' -e 'listening on' -e 'data link type' "$work/$i.log" | tail -n 8 | tr '\n' ' ') || why=
		if [ "$rc" = 143 ] && ! grep -q 'listening on' "$work/$i.log"; then
			why="it never started listening, and was ended with SIGTERM: $why"
		fi
		case $why in
		*"Couldn't change"*) why="$why(tcpdump needs CAP_SETGID to keep root, or CAP_SETUID, CAP_SETGID and CAP_CHOWN to switch users)" ;;
		esac
		if [ ! -e "$proc_root/$pid/ns/net" ]; then
			fail "$name" "$EX_NOPOD" pod-not-found "its network namespace $proc_root/$pid/ns/net is gone, and so is the Pod"
		else
			fail "$name" "$EX_TCPDUMP" tcpdump-failed "tcpdump exited with status ${rc:-unknown}: $why"
		fi
	fi
	for f in "$output_dir/$base"*; do
		if [ ! -f "$f" ]; then continue; fi
		size=$(wc -c <"$f")
		bytes=$((bytes + size))
		nfiles=$((nfiles + 1))
		names="$names
${f##*/}"
	done
done

if [ "$interrupted" -ne 0 ]; then
	status=interrupted
	code=$EX_INTERRUPTED
fi
head=$(printf 'status=%s files=%s bytes=%s packets=%s received=%s dropped=%s start=%s targets=%s failed=%s' \
	"$status" "$nfiles" "$bytes" "$packets" "$received" "$dropped" "$start" "$#" "$nfailed")

# Keep the summary under the kubelet's 4 KiB: the failed Pods first, then the file names, while
# they fit, then count the rest.
summary=$head
left=$((nfailed + nfiles))
while IFS= read -r line; do
	if [ -z "$line" ]; then continue; fi
	if [ $((${#summary} + ${#line} + 40)) -gt "$SUMMARY_MAX" ]; then
		summary="$summary
... and $left more"
		break
	fi
	summary="$summary
$line"
	left=$((left - 1))
done <<EOF
$failures
$names
EOF

report "$summary"
: >"$output_dir/.capture-complete"

if [ "$interrupted" -ne 0 ]; then exit "$EX_INTERRUPTED"; fi

# --- retention (Pod-volume sink) -------------------------------------------------------------

if [ "$retention" -gt 0 ] && [ "$nfiles" -gt 0 ]; then
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
exit "$code"
