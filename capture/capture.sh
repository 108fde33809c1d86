#!/bin/sh
# capture.sh <pod-name>/<pod-uid>...: one tcpdump in the network namespace of each target Pod on
# this node, run by a capture Job's Pod (hostPID). POSIX sh: dash, bash, busybox ash.
# Settings are the ConfigMap's other keys, files beside this script, read as data, never sourced
# (capture/settings.go validated them; this script checks only what keeps them out of the shell
# and its files inside output-dir). TARGET_NODE_NAME names the node in messages.
# Each Pod is captured for duration-seconds from when every tcpdump listens (10 s at most), and 1.5 s
# more (stop_all), until packet-count, or until its process ends (gone); a Pod not found is looked
# for all that time.
# Output: <base>.pcap[N] and <base>.netstate-{start,end}.txt per Pod (base: namespace_pod_job-id_
# UTC start); <HOSTNAME>.summary.txt (capture/summary.go; also on stdout and, cut under 4 KiB, in
# the termination log) and SHA256SUMS.<HOSTNAME> per capture Pod; then .capture-complete. Exit:
# the first failed Pod's, 2 bad-settings, 3 pod-not-found, 4 tcpdump-failed, 5 gone,
# 6 host-network (refused), or 143 after SIGTERM/SIGINT (files complete up to then).

set -eu
LC_ALL=C
export LC_ALL
umask 022
term_log=${TERMINATION_LOG:-/dev/termination-log}
conf=${0%/*}
if [ "$conf" = "$0" ]; then conf=.; fi

# report TEXT: the summary, on stdout and in the termination log.
report() {
	printf '%s\n' "$1"
	(printf '%s\n' "$1" >"$term_log") 2>/dev/null || true
}
# die MESSAGE: refuse the settings or arguments; nothing was captured.
die() {
	printf 'capture: %s\n' "$1" >&2
	report "$(printf 'status=bad-settings\n%.3900s' "$1")"
	exit 2
}
# Until the captures start, a stop signal ends the script at once.
trap 'report status=interrupted; exit 143' TERM INT

# get NAME [DEFAULT]: the setting NAME in $v; required when there is no default.
get() {
	v=${2-}
	if [ -f "$conf/$1" ]; then
		v=$(cat "$conf/$1") || die "setting $1: cannot read $conf/$1"
	elif [ $# -lt 2 ]; then
		die "setting $1: missing (no file $conf/$1)"
	fi
}
# num NAME [DEFAULT]: get, and at most 10 digits: the value goes into test and arithmetic.
num() {
	get "$@"
	case $v in '' | *[!0-9]* | ???????????*) die "setting $1: \"$v\" is not a whole number" ;; esac
}
# safe VALUE MAX: VALUE with every character but [A-Za-z0-9.-] made _, cut to MAX, never a hidden
# name, in $v. File names are made of such pieces only, so they stay in output-dir.
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
work=$(mktemp -d 2>/dev/null || mktemp -d "$out/.capture-work.XXXXXX") || die "setting output-dir: no work directory"
trap 'rm -rf "$work" 2>/dev/null || true' EXIT

# The arguments, all checked before any capture starts. Names and uids that pass hold only
# [0-9A-Za-z.-]: safe in patterns and file names. A Pod name is cut to 100 characters for its
# file names; a cut that meets another gets the argument number.
if [ $# -eq 0 ]; then die "arguments: none; the Job passes one argument <pod-name>/<pod-uid> per target Pod"; fi
ntargets=$#
start=$(date -u +%Y%m%dT%H%M%SZ)
safe "$pod_ns" 63
prefix=${v}_
safe "$job_id" 16
suffix=_${v}_$start
i=0 all= used=' '
for a in "$@"; do
	i=$((i + 1))
	all="$all $i" name=${a%%/*} uid=${a#*/}
	case $a in */*) ;; *) die "argument $i \"$a\": not <pod-name>/<pod-uid>" ;; esac
	case $name in '' | *[!a-z0-9.-]* | [.-]* | *[.-]) die "argument $i \"$a\": \"$name\" is not a Pod name" ;; esac
	if [ ${#name} -gt 253 ]; then die "argument $i: the Pod name is longer than 253 characters"; fi
	case $uid in '' | *[!0-9A-Za-z-]* | -*) die "argument $i \"$a\": \"$uid\" is not a Pod uid" ;; esac
	if [ ${#uid} -lt 8 ] || [ ${#uid} -gt 64 ]; then die "argument $i \"$a\": \"$uid\" is not a Pod uid"; fi
	p=$name
	if [ ${#p} -gt 100 ]; then p=$(printf '%.100s' "$p"); fi
	case $used in *" $p "*) p=$p-$i ;; esac
	used="$used$p "
	printf '%s %s %s\n' "$name" "$uid" "$prefix$p$suffix" >"$work/$i.t"
done
# The summary and checksums are named after the capture Pod, or else the job and first target.
read -r name _ <"$work/1.t"
safe "${HOSTNAME:-capture-$job_id-$name}" 200
me=$v
rm -f "$out/.capture-complete" "$out/.retrieved"

# -Z root: a tcpdump built with a default user (Debian, RHEL) drops to it and then cannot open
# rotated files. Staying root calls initgroups(), which needs CAP_SETGID (bit 6) in effect;
# without it, no -Z (fine for builds without a default user, such as Alpine's).
eff=$(sed -n 's/^CapEff:[[:space:]]*\([0-9a-fA-F]*\)$/\1/p' /proc/self/status 2>/dev/null) || eff=
keep_root=1
case $eff in ??*) if [ $((0x${eff#"${eff%??}"} >> 6 & 1)) -eq 0 ]; then keep_root=0; fi ;; esac
if [ ! -e "$proc/1/ns/net" ]; then
	printf 'capture: cannot read %s/1/ns/net (CAP_SYS_PTRACE?): the node'\''s namespace cannot be told apart\n' "$proc" >&2
fi

# --- One background job per target Pod (capture_pod) owns its tcpdump; this shell starts them,
# ends the window (the file stop; on SIGTERM/SIGINT also interrupted) and writes the summary.
# Work files per Pod, by argument number i: i.t "<name> <uid> <base>"; from its job i.missing
# (not found at first), i.tpid and i.log (tcpdump's pid and messages), its summary parts i.sum,
# i.why, i.names; i.done.

# find_pod: this Pod's process to capture in $pid, or none. The kubelet names a Pod's cgroups with
# its uid as it is (cgroupfs: .../pod<uid>/<container>) or with _ for - (systemd:
# ...-pod<uid_>.slice/...). Take its sandbox (pause), or else one in the network namespace most
# of its processes share, naming the others elsewhere in $warn; skip CRI-O's conmon (it is in the
# node's namespace).
find_pod() {
	pid= pids= warn=
	if [ -n "$from_scan" ]; then # the first look: the start's scan of every Pod
		grep -E "[-/]pod($uid|$uid_)(\\.slice|/|\$)" "$work/procs" | sed 's/:.*//' >"$work/$i.cgroups" || true
		from_scan=
	else
		grep -lE "[-/]pod($uid|$uid_)(\\.slice|/|\$)" "$proc"/[0-9]*/cgroup >"$work/$i.cgroups" 2>/dev/null || true
	fi
	while IFS= read -r f; do
		d=${f%/cgroup} comm=
		if [ ! -e "$d/ns/net" ]; then continue; fi
		read -r comm 2>/dev/null <"$d/comm" || true
		case $comm in
		conmon) continue ;;
		pause | pod) pid=${pid:-${d##*/}} ;;
		esac
		pids="$pids ${d##*/}"
	done <"$work/$i.cgroups"
	if [ -z "$pids" ]; then return 1; fi
	if [ -z "$pid" ]; then
		most=0
		for p in $pids; do
			n=0
			for q in $pids; do if [ "$proc/$p/ns/net" -ef "$proc/$q/ns/net" ]; then n=$((n + 1)); fi; done
			if [ "$n" -gt "$most" ]; then most=$n pid=$p; fi
		done
	fi
	for p in $pids; do
		if [ ! "$proc/$p/ns/net" -ef "$proc/$pid/ns/net" ]; then
			read -r comm 2>/dev/null <"$proc/$p/comm" || comm=
			warn="${warn}process $p ($comm) of the Pod is in another network namespace than process $pid, which was captured; "
		fi
	done
	if [ -n "$warn" ]; then printf 'capture: pod %s: warning: %s\n' "$pod_ns/$name" "$warn" >&2; fi
}

# netstate NETNS WHEN: the network state inside NETNS into <base>.netstate-WHEN.txt.
netstate() {
	if [ "$snapshot" = off ]; then return 0; fi
	{
		printf '# network state of pod %s at the %s of its capture, %s\n' \
			"$pod_ns/$name" "$2" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
		if [ ! -e "$1" ]; then
			printf '# none: the Pod'\''s process has ended\n'
		else
			for c in 'ip addr' 'ip route' 'ip -6 route' 'ip neigh' 'ss -tuanp' 'cat /proc/net/dev' 'cat /proc/net/snmp'; do
				printf '\n## %s\n' "$c"
				# shellcheck disable=SC2086 # the words of the command
				nsenter --net="$1" -- $c 2>&1 || printf '(%s: failed or not in this image)\n' "$c"
			done
		fi
	} >"$out/$base.netstate-$2.txt" 2>&1
}

# capture_pod I: the capture of target Pod I, from looking for its process (every second until
# the window ends) to its part of the summary.
capture_pod() {
	i=$1
	read -r name uid base <"$work/$i.t"
	uid_=$(printf '%s' "$uid" | tr - _)
	rc= secs=0 gone= host= why= from_scan=1
	while ! find_pod && [ ! -e "$work/stop" ]; do
		: >"$work/$i.missing"
		sleep 1
	done
	if [ -e "$work/stop" ]; then pid= warn=; fi # found too late: the window has ended
	if [ -n "$pid" ] && [ "$proc/$pid/ns/net" -ef "$proc/1/ns/net" ]; then
		host=$pid
	elif [ -n "$pid" ]; then
		printf 'capture: pod %s (uid %s) via pid %s on node %s: %s s into %s/%s.pcap\n' \
			"$pod_ns/$name" "$uid" "$pid" "${node:-?}" "$duration" "$out" "$base"
		t0=$(date +%s)
		netstate "$proc/$pid/ns/net" start
		# -U writes each packet at once, so an abrupt end loses none; the filter is one argument
		# after --, never an option.
		set -- -i "$iface" -s "$snaplen" -n -U -w "$out/$base.pcap"
		if [ "$keep_root" -eq 1 ]; then set -- "$@" -Z root; fi
		if [ "$count" -gt 0 ]; then set -- "$@" -c "$count"; fi
		if [ "$max_mb" -gt 0 ]; then set -- "$@" -C "$max_mb"; fi
		if [ "$max_mb" -gt 0 ] && [ "$max_files" -gt 0 ]; then set -- "$@" -W "$max_files"; fi
		if [ -n "$filter" ]; then set -- "$@" -- "$filter"; fi
		nsenter --net="$proc/$pid/ns/net" -- tcpdump "$@" </dev/null >>"$work/$i.log" 2>&1 &
		tpid=$!
		printf '%s\n' "$tpid" >"$work/$i.tpid"
		# Every second until tcpdump ends: follow the Pod's process (a zombie has no ns/net; another
		# process in tcpdump's namespace will do: a container restarted), and stop tcpdump once the
		# window ends or the Pod is gone. A listening tcpdump ends on SIGINT, closing its files;
		# before that it may ignore SIGINT (background commands start so) but ends on SIGTERM. The
		# signal is repeated: one sent between fork and exec is lost.
		while kill -0 "$tpid" 2>/dev/null; do
			if [ -z "$gone" ] && [ ! -e "$proc/$pid/ns/net" ]; then
				was=$pid
				if ! find_pod || [ ! "$proc/$pid/ns/net" -ef "/proc/$tpid/ns/net" ]; then gone=$was pid=$was; fi
			fi
			if [ -n "$gone" ] || [ -e "$work/stop" ]; then
				sig=TERM
				if grep -q 'listening on' "$work/$i.log"; then sig=INT; fi
				kill -"$sig" "$tpid" 2>/dev/null
			fi
			sleep 1
		done
		rm -f "$work/$i.tpid"
		rc=0
		wait "$tpid" 2>/dev/null || rc=$?
		secs=$(($(date +%s) - t0))
		netstate "$proc/$pid/ns/net" end
	fi

	# Its line of the summary, with tcpdump's closing counts and the sizes of its files.
	tp=$(sed -n 's/^\([0-9][0-9]*\) packets* captured$/\1/p' "$work/$i.log" 2>/dev/null) || true
	td=$(sed -n 's/^\([0-9][0-9]*\) packets* dropped by kernel$/\1/p' "$work/$i.log" 2>/dev/null) || true
	tp=${tp:-0} td=${td:-0} tb=0 tf=0
	: >"$work/$i.names"
	for f in "$out/$base.pcap"*; do
		if [ ! -f "$f" ]; then continue; fi
		# shellcheck disable=SC2046 # the fields of ls -ln: the fifth is the size
		set -- $(ls -ln -- "$f")
		tb=$((tb + $5)) tf=$((tf + 1))
		printf '%s\n' "${f##*/}" >>"$work/$i.names"
	done
	if [ -n "$host" ]; then
		st=host-network why="its network namespace (of process $host) is the node's own: refused, it would capture every Pod on the node"
	elif [ -n "$gone" ]; then
		st=gone why="its process $gone ended $secs s into the capture: the Pod was deleted, evicted or restarted"
	elif [ -e "$work/interrupted" ]; then
		st=interrupted why="the capture Pod was stopped (SIGTERM or SIGINT) $secs s into its capture"
	elif [ -z "$pid" ]; then
		st=pod-not-found
		why="no process under $proc had pod uid $uid in its cgroup during the capture: the Pod is gone or does not run on ${node:+node }${node:-this node}"
	elif [ "$rc" != 0 ]; then
		st=tcpdump-failed
		why=$(grep -v -e '^$' -e 'listening on' -e 'data link type' -e 'packets* ' "$work/$i.log" | tail -n 4 | tr '\n' ' ')
		case $why in *"Couldn't change"*) why="$why(tcpdump needs CAP_SETGID to keep root)" ;; esac
		why="tcpdump exited with status $rc: $why"
	else
		st=ok
	fi
	if [ -e "$work/$i.behind" ]; then
		warn="${warn}tcpdump was still reading when it was stopped, 10 s after the window: packets of the window's end may be missing, not counted as dropped (it was starved of CPU: a capture requests none; input.resources.requests.cpu gives it a share); "
	fi
	if [ -n "$warn" ]; then why="${why:+$why; }$warn"; fi
	if [ "$st" != ok ]; then printf 'capture: pod %s: %s: %s\n' "$pod_ns/$name" "$st" "$why" >&2; fi
	printf '%s %s %s %s %s %s %s\n' "$i" "$st" "$tp" "$tb" "$td" "$tf" "$secs" >"$work/$i.sum"
	if [ -n "$why" ]; then printf 'why %s %.300s\n' "$i" "$why"; fi >"$work/$i.why"
}

# alldone: whether every job has ended.
alldone() {
	for d in $all; do if [ ! -e "$work/$d.done" ]; then return 1; fi; done
}
# proc_state PID: the state letter of a process (R running, S sleeping, T stopped...), or "".
proc_state() {
	st=
	read -r st <"/proc/$1/stat" 2>/dev/null || true
	st=${st##*) }
	printf '%s' "${st%% *}"
}
# stop_all: end the window. tcpdump is given 1.5 s first: the kernel hands it its packets in
# blocks, a block once full or a second (tcpdump's timeout) after its first packet, and a tcpdump
# stopped at once loses the blocks it has not read (the window's last ~0.6 s, measured), counting
# them neither captured nor dropped. Then each tcpdump is waited for (10 s at most in all) until
# it sleeps: its blocks are read to the end. One starved of CPU (a capture requests none) is still
# reading. A SIGINT then spares each listening tcpdump up to a second; its job sees the stop file
# and does the rest.
stop_all() {
	if [ ! -e "$work/stop" ] && [ -n "$(cd "$work" && ls -- *.tpid 2>/dev/null)" ]; then
		sleep 1.5 2>/dev/null || sleep 2
		polls=0
		for s in $all; do
			read -r sp 2>/dev/null <"$work/$s.tpid" || continue
			# S: asleep, its blocks read; Z or none: it has ended.
			while [ "$polls" -lt 100 ]; do
				case $(proc_state "$sp") in S | Z | '') break ;; esac
				sleep 0.1 2>/dev/null || sleep 1
				polls=$((polls + 1))
			done
			case $(proc_state "$sp") in S | Z | '') ;; *) : >"$work/$s.behind" ;; esac
		done
	fi
	: >"$work/stop"
	for s in $all; do
		if read -r sp 2>/dev/null <"$work/$s.tpid"; then kill -INT "$sp" 2>/dev/null || true; fi
	done
}

timer=
trap ': >"$work/interrupted"; stop_all' TERM INT
# No tcpdump outlives the script: a stop signal cuts a wait short, so wait again.
trap 'stop_all; kill $timer 2>/dev/null || :; until wait; do :; done; rm -rf "$work" 2>/dev/null || :' EXIT
# Every Pod's first look is one scan of the node's processes: a read of /proc/PID/cgroup takes the
# kernel's cgroup lock, and 13 Pods scanning at once took 37 s on a loaded node (the scan alone, a
# few seconds). A look after that (a Pod not found yet, or its process gone) scans for that Pod.
grep -m1 -E '[-/]pod[0-9a-f]' "$proc"/[0-9]*/cgroup >"$work/procs" 2>/dev/null || true
# A job goes on after an error (set -e does not apply left of ||), so that it ends with i.done.
for i in $all; do
	(capture_pod "$i" || :; : >"$work/$i.done") &
done

# The window: duration-seconds from when every found Pod's tcpdump listens (10 s at most).
tries=0 pending=$all
while [ -n "$pending" ] && [ "$tries" -lt 100 ]; do
	# shellcheck disable=SC2086 # argument numbers
	set -- $pending
	while [ $# -gt 0 ] && { [ -e "$work/$1.done" ] || [ -e "$work/$1.missing" ] || grep -q 'listening on' "$work/$1.log" 2>/dev/null; }; do shift; done
	pending=$*
	if [ -n "$pending" ]; then sleep 0.1 2>/dev/null || sleep 1; fi
	tries=$((tries + 1))
done
sleep "$duration" >/dev/null 2>&1 &
timer=$!
until alldone; do
	if [ ! -e "$work/stop" ] && ! kill -0 "$timer" 2>/dev/null; then stop_all; fi
	sleep 0.2 2>/dev/null || sleep 1
done
kill "$timer" 2>/dev/null || true

# --- the summary: the Pods' lines in argument order, then their why lines, then their files.
status=ok failed=0 nfiles=0 bytes=0 packets=0 dropped=0
for i in $all; do
	read -r _ st tp tb td tf _ <"$work/$i.sum"
	packets=$((packets + tp)) bytes=$((bytes + tb)) dropped=$((dropped + td)) nfiles=$((nfiles + tf))
	if [ "$st" != ok ]; then failed=$((failed + 1)); fi
	if [ "$status" = ok ]; then status=$st; fi
	cat "$work/$i.names" >>"$work/names"
done
if [ -e "$work/interrupted" ]; then status=interrupted; fi
case $status in
ok) code=0 ;; pod-not-found) code=3 ;; tcpdump-failed) code=4 ;; gone) code=5 ;; host-network) code=6 ;; *) code=143 ;;
esac
{
	printf 'status=%s targets=%s failed=%s files=%s bytes=%s packets=%s dropped=%s start=%s\n' \
		"$status" "$ntargets" "$failed" "$nfiles" "$bytes" "$packets" "$dropped" "$start"
	printf '#pod status packets bytes dropped files seconds\n'
	for i in $all; do cat "$work/$i.sum"; done
	for i in $all; do cat "$work/$i.why"; done
	cat "$work/names"
} >"$work/summary"
cp "$work/summary" "$out/$me.summary.txt" 2>/dev/null || printf 'capture: cannot write %s/%s.summary.txt\n' "$out" "$me" >&2
if [ "$nfiles" -gt 0 ] && command -v sha256sum >/dev/null 2>&1; then
	# The digests of the files the summary lists (names of [A-Za-z0-9._-]; one gone is left out).
	(cd "$out" && xargs sha256sum -- <"$work/names" 2>/dev/null || true) >"$out/SHA256SUMS.$me" ||
		printf 'capture: cannot write %s/SHA256SUMS.%s\n' "$out" "$me" >&2
fi
# The termination log (the kubelet keeps 4 KiB) keeps the lines in order while they fit, then
# says how many it left out; the Pods' lines come first, so they are cut last.
report "$(awk -v total="$(wc -l <"$work/summary")" '
	n + length($0) > 3970 { print "... and " total - NR + 1 " more"; exit }
	{ n += length($0) + 1; print }' "$work/summary")"
: >"$out/.capture-complete"
if [ "$code" -eq 143 ]; then exit 143; fi

# Retention (Pod output): keep the container up for `kubectl cp` until .retrieved appears.
if [ "$retention" -gt 0 ] && [ "$nfiles" -gt 0 ]; then
	printf 'capture: keeping the files for %s s; create %s/.retrieved to end sooner\n' "$retention" "$out"
	waited=0
	while [ "$waited" -lt "$retention" ] && [ ! -e "$out/.retrieved" ] && [ ! -e "$work/interrupted" ]; do
		sleep 1
		waited=$((waited + 1))
	done
fi
exit "$code"
