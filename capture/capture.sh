#!/bin/sh
# capture.sh: capture the packets of one or more Pods, each in its own network namespace, from a
# Job's Pod on their node (hostPID). POSIX sh: it runs under dash, bash and busybox ash.
#   /bin/sh /etc/packet-capture/capture.sh <pod-name>/<pod-uid> [<pod-name>/<pod-uid> ...]
# Settings are the ConfigMap's other keys, files beside this script, read as data, never sourced:
#   duration-seconds, output-dir, job-id (required); interface (any); snaplen (262144); filter
#   (one tcpdump argument after --); max-file-size-mb, max-files, packet-count (tcpdump -C, -W,
#   -c; 0: none); network-snapshot (on|off); retention-seconds (Pod output: stay up for
#   `kubectl cp` until <output-dir>/.retrieved appears); proc-root (/proc); target-namespace
#   (env TARGET_POD_NAMESPACE wins). TARGET_NODE_NAME names the node in messages.
# The planner validated them (capture/settings.go); this script checks only what keeps it in its
# paths and out of the shell: absolute paths, digits for numbers, the shape of each argument.
#
# Per target Pod: find its network namespace, run one tcpdump in it, stop it duration-seconds
# after every tcpdump listens (waiting at most 10 s) or when the Pod's process ends (gone). A Pod
# not found is looked for every second of the window; the node's own namespace is refused.
#
# Files in output-dir, per target Pod (base = <namespace>_<pod>_<job-id>_<UTC start>):
#   <base>.pcap[N], <base>.netstate-start.txt and <base>.netstate-end.txt; per capture Pod
#   (HOSTNAME: Jobs sharing a HostPath or claim keep theirs): <HOSTNAME>.summary.txt and
#   SHA256SUMS.<HOSTNAME>; then .capture-complete. The summary (capture/summary.go) also goes to
#   stdout and, cut under 4 KiB, to ${TERMINATION_LOG:-/dev/termination-log}. Its status and the
#   exit code are the first not-ok Pod's in argument order, unless a stop signal came:
#   0 ok   2 bad-settings   3 pod-not-found   4 tcpdump-failed   5 gone (its process ended)
#   6 host-network (refused)   143 interrupted (SIGTERM/SIGINT; files complete up to then)

set -eu
LC_ALL=C
export LC_ALL
umask 022
term_log=${TERMINATION_LOG:-/dev/termination-log}
conf=${0%/*}
if [ "$conf" = "$0" ]; then conf=.; fi

# report TEXT: the summary, to stdout and the termination log.
report() {
	printf '%s\n' "$1"
	(printf '%s\n' "$1" >"$term_log") 2>/dev/null || true
}
# Until the capture sets its own trap, a stop signal ends the script at once, saying so.
trap 'report status=interrupted; exit 143' TERM INT

# die MESSAGE: refuse the settings or arguments; nothing was captured.
die() {
	printf 'capture: %s\n' "$1" >&2
	report "$(printf 'status=bad-settings\n%.3900s' "$1")"
	exit 2
}

# get NAME [DEFAULT]: the setting NAME in $v; without a default it is required.
get() {
	if [ -f "$conf/$1" ]; then
		v=$(cat "$conf/$1") || die "setting $1: cannot read $conf/$1"
	elif [ $# -gt 1 ]; then
		v=$2
	else
		die "setting $1: missing (no file $conf/$1)"
	fi
}

# num NAME [DEFAULT]: a whole number of at most 10 digits in $v: it goes into test and arithmetic.
num() {
	get "$@"
	case $v in '' | *[!0-9]* | ???????????*) die "setting $1: \"$v\" is not a whole number" ;; esac
}

# safe VALUE MAX: VALUE with every character but [A-Za-z0-9.-] made _, cut to MAX, never a
# hidden name, in $v. File names are made only of such pieces and so stay in output-dir.
safe() {
	v=$(printf '%s' "$1" | tr -c 'A-Za-z0-9.-' _ | cut -c "1-$2")
	case $v in '') v=_ ;; .*) v=_${v#.} ;; esac
}

num duration-seconds; duration=$v
get output-dir; out=$v
get job-id; job_id=$v
get interface any; iface=$v
num snaplen 262144; snaplen=$v
get filter ''; filter=$v
num max-file-size-mb 0; max_mb=$v
num max-files 0; max_files=$v
num packet-count 0; count=$v
get network-snapshot on; snapshot=$v
num retention-seconds 0; retention=$v
get proc-root /proc; proc=$v
get target-namespace ''; pod_ns=${TARGET_POD_NAMESPACE:-$v}
node=${TARGET_NODE_NAME:-}
case $out in /*) ;; *) die "setting output-dir: \"$out\" is not an absolute path" ;; esac
case $proc in /*) ;; *) die "setting proc-root: \"$proc\" is not an absolute path" ;; esac

mkdir -p "$out" 2>/dev/null || true
if [ ! -d "$out" ] || [ ! -w "$out" ]; then die "setting output-dir: $out is not a writable directory"; fi
# The work directory holds, per target Pod by argument number i: i.t ("<name> <uid> <uid with _
# for -> <base>"); once found i.pid and i.start (the process followed, its start time) and i.warn,
# or i.host when refused; from its runner i.log (tcpdump's messages), i.tpid (tcpdump's pid) and
# last i.rc ("<exit status> <seconds captured>"); i.gone (its pid) when its process went away.
work=$(mktemp -d 2>/dev/null) || work=$out/.capture-work.$$
if [ ! -d "$work" ]; then mkdir "$work" || die "setting output-dir: cannot make a work directory $work"; fi
trap 'rm -rf "$work" 2>/dev/null || true' EXIT

# The arguments, checked before any capture starts: names and uids that pass hold only
# [0-9A-Za-z.-], so they are safe in patterns and file names. A long Pod name is cut for its file name; a cut
# that meets another gets the argument number.
if [ $# -eq 0 ]; then die "arguments: none; the Job passes one argument <pod-name>/<pod-uid> per target Pod"; fi
start=$(date -u +%Y%m%dT%H%M%SZ)
safe "$pod_ns" 63
prefix=${v}_
safe "$job_id" 16
suffix=_${v}_$start
ntargets=$#
i=0
all=
used=' '
for a in "$@"; do
	i=$((i + 1))
	all="$all $i"
	name=${a%%/*} uid=${a#*/}
	case $a in */*) ;; *) die "argument $i \"$a\": not <pod-name>/<pod-uid>" ;; esac
	case $name in '' | *[!a-z0-9.-]* | [.-]* | *[.-]) die "argument $i \"$a\": \"$name\" is not a Pod name" ;; esac
	if [ ${#name} -gt 253 ]; then die "argument $i: the Pod name is longer than 253 characters"; fi
	case $uid in '' | *[!0-9A-Za-z-]* | -*) die "argument $i \"$a\": \"$uid\" is not a Pod uid" ;; esac
	if [ ${#uid} -lt 8 ] || [ ${#uid} -gt 64 ]; then die "argument $i \"$a\": \"$uid\" is not a Pod uid"; fi
	p=$name
	if [ ${#p} -gt 100 ]; then p=$(printf '%.100s' "$p"); fi
	case $used in *" $p "*) p=$p-$i ;; esac
	used="$used$p "
	# The uid with _ for each - (the systemd cgroup driver's spelling), without a fork.
	IFS=-
	# shellcheck disable=SC2086 # split at -
	set -- $uid
	IFS=_
	printf '%s %s %s %s\n' "$name" "$uid" "$*" "$prefix$p$suffix" >"$work/$i.t"
	unset IFS
done
# The summary and checksums are named after the capture Pod (its HOSTNAME: Jobs that share a
# HostPath or claim each keep theirs), or else after the job and the first target.
read -r name _ <"$work/1.t"
safe "${HOSTNAME:-capture-$job_id-$name}" 200
me=$v
rm -f "$out/.capture-complete" "$out/.retrieved"

# --- stopping ---------------------------------------------------------------------------------

# Only this shell traps signals: a runner just waits for its tcpdump. A stop signal, the timer
# (SIGALRM) or a Pod gone starts one stopper per tcpdump still running. runners are "i:pid" of
# the runners started; i.rc says that target's tcpdump has ended.
runners=
timer=
interrupted=0
timed_out=0

# stopper I RUNNER: stop target I's tcpdump, whose pid its runner RUNNER writes to i.tpid. A
# listening tcpdump ends on SIGINT, closing its files. One not listening yet may still ignore
# SIGINT (a background command starts so) but ends on SIGTERM before it opens a file; a signal
# between fork and exec is lost: repeat until it ends.
stopper() {
	while [ ! -e "$work/$1.rc" ] && kill -0 "$2" 2>/dev/null; do
		if read -r sp 2>/dev/null <"$work/$1.tpid"; then
			if grep -q 'listening on' "$work/$1.log" 2>/dev/null; then
				kill -INT "$sp" 2>/dev/null || true
				return 0
			fi
			kill -TERM "$sp" 2>/dev/null || true
		fi
		sleep 0.5 2>/dev/null || sleep 1
	done
}

# stop I:PID...: start a stopper for each of these runners still capturing, once.
stop() {
	for s in "$@"; do
		if [ ! -e "$work/${s%%:*}.rc" ] && mkdir "$work/${s%%:*}.stop" 2>/dev/null; then
			stopper "${s%%:*}" "${s#*:}" &
		fi
	done
}

# finish: stop every tcpdump and the timer, and wait for every child (runners, stoppers, timer);
# a trapped signal cuts the wait short: wait again. No tcpdump outlives the script.
finish() {
	# shellcheck disable=SC2086 # i:pid words
	stop $runners
	if [ -n "$timer" ]; then kill "$timer" 2>/dev/null || true; fi
	timer=
	until wait; do :; done
}

# shellcheck disable=SC2317,SC2086 # called by the traps; i:pid words
on_signal() {
	interrupted=1
	stop $runners
}
trap on_signal TERM INT
# shellcheck disable=SC2086 # i:pid words
trap 'timed_out=1; stop $runners' ALRM
trap 'finish; rm -rf "$work" 2>/dev/null || true' EXIT

# --- finding a Pod's network namespace --------------------------------------------------------

# pstat PID: "<state> <start time>" of process PID (fields 3 and 22 of its stat) in $st.
pstat() {
	st=
	read -r st 2>/dev/null <"$proc/$1/stat" || return 0
	st=${st##*) } # after the command name, which may hold spaces and parentheses
	# shellcheck disable=SC2086 # the fields of stat: numbers and a state letter
	set -- $st
	st="${1:-} ${20:-}"
}

# alive PID START: whether process PID still runs and is the one that started at START.
alive() {
	[ -e "$proc/$1/ns/net" ] || return 1
	pstat "$1"
	[ "${st%% *}" != Z ] && [ "${st#* }" = "$2" ]
}

# find_pods I...: look for the processes of target Pods I... and, for each found, choose one. The
# kubelet names a Pod's cgroup with its uid as it is (cgroupfs: .../pod<uid>/<container>) or with
# _ for - (systemd: ...-pod<uid_>.slice/crio-<id>.scope).
find_pods() {
	: >"$work/patterns"
	for fi in "$@"; do
		read -r _ fu fu_ _ <"$work/$fi.t"
		printf '[-/]pod(%s|%s)(\\.slice|/|$)\n' "$fu" "$fu_" >>"$work/patterns"
	done
	grep -HoE -f "$work/patterns" "$proc"/[0-9]*/cgroup >"$work/matches" 2>/dev/null || true
	if [ ! -s "$work/matches" ]; then return 0; fi
	for fi in "$@"; do
		read -r _ fu fu_ _ <"$work/$fi.t"
		grep -E ":[-/]pod($fu|$fu_)(\\.slice|/)?\$" "$work/matches" | sed -e 's/:[^:]*$//' >"$work/cands" || true
		choose "$fi" <"$work/cands"
	done
}

# choose I: target I's process among the cgroup files on stdin: its sandbox (pause), or else one
# of those in the namespace most of them share; the others elsewhere are reported. conmon
# (CRI-O's, in the host namespace) is skipped. Writes i.pid and i.start, or i.host.
choose() {
	pids=
	sandbox=
	while IFS= read -r f; do
		d=${f%/cgroup}
		if [ ! -e "$d/ns/net" ] || grep -q crio-conmon- "$f" 2>/dev/null; then continue; fi
		comm=
		read -r comm 2>/dev/null <"$d/comm" || true
		case $comm in
		conmon) continue ;;
		pause | pod) sandbox=${sandbox:-${d##*/}} ;;
		esac
		pids="$pids ${d##*/}"
	done
	if [ -z "$pids" ]; then return 0; fi
	chosen=$sandbox
	if [ -z "$chosen" ]; then
		most=0
		for p in $pids; do
			n=0
			for q in $pids; do if [ "$proc/$p/ns/net" -ef "$proc/$q/ns/net" ]; then n=$((n + 1)); fi; done
			if [ "$n" -gt "$most" ]; then most=$n chosen=$p; fi
		done
	fi
	: >"$work/$1.warn"
	for p in $pids; do
		if [ ! "$proc/$p/ns/net" -ef "$proc/$chosen/ns/net" ]; then
			comm=
			read -r comm 2>/dev/null <"$proc/$p/comm" || true
			printf 'process %s (%s) of the Pod is in another network namespace than process %s, which was captured; ' \
				"$p" "$comm" "$chosen" >>"$work/$1.warn"
		fi
	done
	if [ -s "$work/$1.warn" ]; then
		read -r fn _ <"$work/$1.t"
		printf 'capture: pod %s: warning: %s\n' "$pod_ns/$fn" "$(cat "$work/$1.warn")" >&2
	fi
	pstat "$chosen"
	printf '%s\n' "${st#* }" >"$work/$1.start"
	if [ "$proc/$chosen/ns/net" -ef "$proc/1/ns/net" ]; then
		printf '%s\n' "$chosen" >"$work/$1.host"
	else
		printf '%s\n' "$chosen" >"$work/$1.pid"
	fi
}

# --- capturing --------------------------------------------------------------------------------

# -Z root: tcpdump built with a default user (Debian, RHEL) drops to it and then cannot open
# rotated files. Staying root calls initgroups(), which needs CAP_SETGID (6) in effect; without
# it -Z is left out, which works for builds without a default user (Alpine's).
eff=$(sed -n -e 's/^CapEff:[[:space:]]*\([0-9a-fA-F]*\)$/\1/p' /proc/self/status 2>/dev/null) || eff=
keep_root=1
case $eff in ??*) if [ $((0x${eff#"${eff%??}"} >> 6 & 1)) -eq 0 ]; then keep_root=0; fi ;; esac

# netstate NETNS WHEN: the network state inside the namespace NETNS, for <base>.netstate-WHEN.txt.
netstate() {
	printf '# network state of pod %s at the %s of its capture, %s\n' \
		"$pod_ns/$rname" "$2" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	if [ -e "$work/$ri.gone" ] || [ ! -e "$1" ]; then
		printf '# none: the Pod'\''s process has ended\n'
		return 0
	fi
	for c in 'ip addr' 'ip route' 'ip -6 route' 'ip neigh' 'ss -tuanp' 'cat /proc/net/dev' 'cat /proc/net/snmp'; do
		printf '\n## %s\n' "$c"
		# shellcheck disable=SC2086 # the words of the command
		nsenter --net="$1" -- $c 2>&1 || printf '(%s: failed or not in this image)\n' "$c"
	done
}

# run_target I NETNS: the runner of target I, in the background: tcpdump in the network
# namespace NETNS until it ends (a stopper stops it), then i.rc and the end snapshot.
run_target() {
	ri=$1
	rnet=$2
	read -r rname _ _ rbase <"$work/$ri.t"
	t0=$(date +%s)
	if [ "$snapshot" != off ]; then netstate "$rnet" start >"$out/$rbase.netstate-start.txt" 2>&1 || true; fi

	# -U: every packet written at once, so an abrupt end loses nothing. --: the filter is one
	# argument after it and can never be read as an option.
	set -- -i "$iface" -s "$snaplen" -n -U
	if [ "$keep_root" -eq 1 ]; then set -- "$@" -Z root; fi
	if [ "$count" -gt 0 ]; then set -- "$@" -c "$count"; fi
	set -- "$@" -w "$out/$rbase.pcap"
	if [ "$max_mb" -gt 0 ]; then
		set -- "$@" -C "$max_mb"
		if [ "$max_files" -gt 0 ]; then set -- "$@" -W "$max_files"; fi
	fi
	set -- "$@" --
	if [ -n "$filter" ]; then set -- "$@" "$filter"; fi
	nsenter --net="$rnet" -- tcpdump "$@" </dev/null >>"$work/$ri.log" 2>&1 &
	printf '%s\n' "$!" >"$work/$ri.tpid"
	rc=0
	wait "$!" || rc=$?
	printf '%s %s\n' "$rc" "$(($(date +%s) - t0))" >"$work/$ri.rc"
	# The Pod's process now (a container may have restarted), for the end snapshot.
	read -r p 2>/dev/null <"$work/$ri.pid" && rnet=$proc/$p/ns/net
	if [ "$snapshot" != off ]; then netstate "$rnet" end >"$out/$rbase.netstate-end.txt" 2>&1 || true; fi
}

# find_and_start I...: look for targets I... and start a runner for each found, unless a signal
# came; the others not refused stay in $missing.
find_and_start() {
	find_pods "$@"
	missing=
	for si in "$@"; do
		if [ -e "$work/$si.host" ] || [ "$interrupted" -ne 0 ]; then continue; fi
		if [ ! -e "$work/$si.pid" ]; then
			missing="$missing $si"
			continue
		fi
		read -r pid <"$work/$si.pid"
		read -r name uid _ base <"$work/$si.t"
		printf 'capture: pod %s (uid %s) via pid %s on node %s: %s s into %s/%s.pcap\n' \
			"$pod_ns/$name" "$uid" "$pid" "${node:-?}" "$duration" "$out" "$base"
		# Its stderr would only say that a shell reaped a tcpdump ended by SIGTERM.
		run_target "$si" "$proc/$pid/ns/net" 2>/dev/null &
		runners="$runners $si:$!"
	done
}

# running: the targets whose runner has not ended, in $live.
running() {
	live=
	for lr in $runners; do
		if [ ! -e "$work/${lr%%:*}.rc" ]; then live="$live ${lr%%:*}"; fi
	done
}

# nap SECONDS: a sleep that a signal ends.
nap() {
	sleep "$1" &
	sleeper=$!
	wait "$sleeper" || kill "$sleeper" 2>/dev/null || true
}

if [ ! -e "$proc/1/ns/net" ]; then
	printf 'capture: cannot read %s/1/ns/net (CAP_SYS_PTRACE?): the node'\''s namespace cannot be told apart\n' "$proc" >&2
fi
# shellcheck disable=SC2086 # argument numbers only
find_and_start $all

# The duration counts from the moment every tcpdump listens (or has ended), at most 10 s on.
n=0
running
while [ -n "$live" ] && [ "$n" -lt 100 ] && [ "$interrupted" -eq 0 ]; do
	# shellcheck disable=SC2086 # argument numbers only
	set -- $live
	while [ $# -gt 0 ] && { [ -e "$work/$1.rc" ] || grep -q 'listening on' "$work/$1.log" 2>/dev/null; }; do shift; done
	live=$*
	if [ -n "$live" ]; then sleep 0.1 2>/dev/null || sleep 1; fi
	n=$((n + 1))
done
if [ "$interrupted" -eq 0 ]; then
	(
		sleeper=
		trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
		nap "$duration"
		kill -ALRM $$
	) &
	timer=$!
fi

# Until the timer ends, or every capture has ended and no Pod is missing: follow each Pod's
# process and look again for the missing Pods.
while [ "$interrupted" -eq 0 ] && [ "$timed_out" -eq 0 ]; do
	running
	if [ -z "$live$missing" ]; then break; fi
	nap 1
	if [ "$interrupted" -ne 0 ] || [ "$timed_out" -ne 0 ]; then break; fi
	for g in $live; do
		read -r pid <"$work/$g.pid"
		read -r pstart <"$work/$g.start"
		if alive "$pid" "$pstart" || [ -e "$work/$g.rc" ]; then continue; fi
		# Another process of the Pod in the same namespace (a container restarted) will do.
		tpid=
		read -r tpid 2>/dev/null <"$work/$g.tpid" || true
		rm -f "$work/$g.pid"
		find_pods "$g"
		if read -r p 2>/dev/null <"$work/$g.pid" && [ "$proc/$p/ns/net" -ef "/proc/$tpid/ns/net" ]; then continue; fi
		rm -f "$work/$g.host"
		printf '%s\n' "$pid" >"$work/$g.pid"
		printf '%s\n' "$pid" >"$work/$g.gone"
		for gr in $runners; do
			if [ "${gr%%:*}" = "$g" ]; then stop "$gr"; fi
		done
	done
	# shellcheck disable=SC2086 # argument numbers only
	if [ -n "$missing" ]; then find_and_start $missing; fi
done
finish

# --- the summary ------------------------------------------------------------------------------

status=ok code=0 failed=0 nfiles=0 bytes=0 packets=0 dropped=0
: >"$work/targets"
: >"$work/whys"
: >"$work/names"
for i in $all; do
	read -r name uid _ base <"$work/$i.t"
	tp=0 tb=0 td=0 tf=0 secs=0 rc= why=
	if [ -e "$work/$i.rc" ]; then read -r rc secs <"$work/$i.rc"; fi
	# tcpdump's closing lines: "N packets captured", "N packets dropped by kernel".
	if [ -e "$work/$i.log" ]; then
		while read -r cn cw; do
			case $cn in '' | *[!0-9]*) continue ;; esac
			case $cw in 'packets captured' | 'packet captured') tp=$cn ;; 'packets dropped by kernel' | 'packet dropped by kernel') td=$cn ;; esac
		done <"$work/$i.log"
	fi
	for f in "$out/$base.pcap"*; do
		if [ ! -f "$f" ]; then continue; fi
		# shellcheck disable=SC2046 # the fields of ls -ln: the fifth is the size
		set -- $(ls -ln -- "$f")
		tb=$((tb + $5)) tf=$((tf + 1))
		printf '%s\n' "${f##*/}" >>"$work/names"
	done
	if [ -e "$work/$i.host" ]; then
		st=host-network c=6
		why="its network namespace (of process $(cat "$work/$i.host")) is the node's own: refused, it would capture every Pod on the node"
	elif [ -e "$work/$i.gone" ]; then
		st=gone c=5
		why="its process $(cat "$work/$i.gone") ended $secs s into the capture: the Pod was deleted, evicted or restarted"
	elif [ "$interrupted" -ne 0 ]; then
		st=interrupted c=143 why="the capture Pod was stopped (SIGTERM or SIGINT) $secs s into its capture"
	elif [ ! -e "$work/$i.pid" ]; then
		st=pod-not-found c=3
		why="no process under $proc had pod uid $uid in its cgroup during the capture: the Pod is gone or does not run on ${node:+node }${node:-this node}"
	elif [ "$rc" != 0 ]; then
		st=tcpdump-failed c=4
		why=$(grep -v -e '^$' -e 'listening on' -e 'data link type' -e 'packets* ' "$work/$i.log" | tail -n 4 | tr '\n' ' ') || true
		case $why in *"Couldn't change"*) why="$why(tcpdump needs CAP_SETGID to keep root)" ;; esac
		why="tcpdump exited with status ${rc:-unknown}: $why"
	else
		st=ok c=0
	fi
	if [ -s "$work/$i.warn" ]; then why="${why:+$why; }$(cat "$work/$i.warn")"; fi
	if [ "$st" != ok ]; then
		failed=$((failed + 1))
		printf 'capture: pod %s: %s: %s\n' "$pod_ns/$name" "$st" "$why" >&2
		if [ "$code" -eq 0 ]; then status=$st code=$c; fi
	fi
	printf '%s %s %s %s %s %s %s\n' "$i" "$st" "$tp" "$tb" "$td" "$tf" "$secs" >>"$work/targets"
	if [ -n "$why" ]; then printf 'why %s %.300s\n' "$i" "$why" >>"$work/whys"; fi
	packets=$((packets + tp)) bytes=$((bytes + tb)) dropped=$((dropped + td)) nfiles=$((nfiles + tf))
done
if [ "$interrupted" -ne 0 ]; then status=interrupted code=143; fi

{
	printf 'status=%s targets=%s failed=%s files=%s bytes=%s packets=%s dropped=%s start=%s\n' \
		"$status" "$ntargets" "$failed" "$nfiles" "$bytes" "$packets" "$dropped" "$start"
	printf '#pod status packets bytes dropped files seconds\n'
	cat "$work/targets" "$work/whys" "$work/names"
} >"$work/summary"
cp "$work/summary" "$out/$me.summary.txt" 2>/dev/null || printf 'capture: cannot write %s/%s.summary.txt\n' "$out" "$me" >&2
if [ "$nfiles" -gt 0 ] && command -v sha256sum >/dev/null 2>&1; then
	# The digests of the files the summary lists ([A-Za-z0-9._-] names; one gone is left out).
	(cd "$out" && xargs sha256sum -- <"$work/names" 2>/dev/null || true) >"$out/SHA256SUMS.$me" ||
		printf 'capture: cannot write %s/SHA256SUMS.%s\n' "$out" "$me" >&2
fi

# Under the kubelet's 4 KiB: lines in order while they fit (the Pods' lines come first, so they
# are cut last), then "... and N more" for the N lines left out.
lines=$(wc -l <"$work/summary")
summary=
n=0
while IFS= read -r line; do
	if [ $((${#summary} + ${#line} + 30)) -gt 4000 ]; then
		summary="$summary
... and $((lines - n)) more"
		break
	fi
	summary=${summary:+$summary
}$line
	n=$((n + 1))
done <"$work/summary"
report "$summary"
: >"$out/.capture-complete"
if [ "$interrupted" -ne 0 ]; then exit 143; fi

# Retention (Pod output): keep the container up for `kubectl cp` until .retrieved appears.
if [ "$retention" -gt 0 ] && [ "$nfiles" -gt 0 ]; then
	printf 'capture: keeping the files for %s s; create %s/.retrieved to end sooner\n' "$retention" "$out"
	waited=0
	while [ "$waited" -lt "$retention" ] && [ ! -e "$out/.retrieved" ] && [ "$interrupted" -eq 0 ]; do
		nap 1
		waited=$((waited + 1))
	done
fi
exit "$code"
