package netns

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/function-packet-capture/function-packet-capture/capture"
)

// The shells a capture can run under: the host's /bin/sh (dash on Debian),
// bash as sh, or busybox ash with busybox's applets, as in Alpine images
// like the default nicolaka/netshoot.
const (
	shellHost    = "sh"
	shellBash    = "bash"
	shellBusybox = "busybox"
)

// imagePath is the PATH a container image sets.
const imagePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// options change how a rendered capture is run.
type options struct {
	shell string
	// data overrides keys of the rendered ConfigMap: test-only settings
	// (proc-root) and payloads the planner would reject.
	data map[string]string
	// env overrides environment variables of the rendered container.
	env map[string]string
	// args replace the rendered container's args when replaceArgs is set:
	// target Pods the planner would never render.
	args        []string
	replaceArgs bool
	// memCgroup, when set, is a cgroup v1 memory cgroup the capture runs
	// in, to measure what it uses.
	memCgroup string
	// pathPrefix goes before the image's PATH, to put stand-ins first.
	pathPrefix string
	// outDir, when set, is the output directory instead of a new empty
	// one: a HostPath or claim that several Jobs share.
	outDir string
}

// capRun is a running capture.
type capRun struct {
	cmd *exec.Cmd
	// args are the script's arguments, one <pod>/<uid> per target Pod.
	args    []string
	started time.Time
	outDir  string
	termLog string
	stdout  lockedBuffer
	stderr  lockedBuffer
	done    chan struct{}
	exit    int
	ended   time.Time

	// summaryFile and sumsFile are the names of the summary and checksum
	// files this capture Pod writes in outDir.
	summaryFile, sumsFile string
}

// result is what a finished capture left.
type result struct {
	exit    int
	elapsed time.Duration
	stdout  string
	stderr  string
	termLog string
	// summary is the termination log as capture.ParseSummary reads it (the
	// one parser the function and the plugin use), summaryErr its error.
	summary    capture.Summary
	summaryErr error
	outDir     string
	// summaryFile and sumsFile are the capture Pod's summary and checksum
	// files in outDir.
	summaryFile, sumsFile string
	args                  []string
	// files are the capture's PCAP files in the output directory, sorted.
	files []string
}

// startWithReadiness starts the rendered capture and returns it with its
// container's exec readiness probe, as a check run in the capture's mount
// namespace (where the kubelet runs it: in the container), and the probe's
// command for messages.
func startWithReadiness(t *testing.T, r rendered, o options) (c *capRun, ready func() bool, probe []string) {
	t.Helper()
	p := r.container(t).ReadinessProbe
	if p == nil || p.Exec == nil {
		t.Fatalf("the rendered Pod-output Job has no exec readiness probe")
	}
	c = startCapture(t, r, o)
	ready = func() bool {
		argv := append([]string{"--mount=/proc/" + strconv.Itoa(c.cmd.Process.Pid) + "/ns/mnt", "--"}, p.Exec.Command...)
		return exec.Command(toolPaths["nsenter"], argv...).Run() == nil
	}
	return c, ready, p.Exec.Command
}

// startCapture runs the rendered capture as its Job would: the ConfigMap's
// data as files at the config mount path, an empty directory at the output
// mount path, the container's command, args and env, and its capabilities,
// in a private mount namespace on the host's network and PID namespaces
// (the Job has hostPID).
func startCapture(t *testing.T, r rendered, o options) *capRun {
	t.Helper()
	tools := requireTools(t)
	c := r.container(t)
	if len(c.Command) == 0 {
		t.Fatalf("rendered container has no command: it would depend on the image's entrypoint")
	}
	if len(c.EnvFrom) > 0 {
		t.Fatalf("rendered container uses envFrom, which this harness does not emulate")
	}
	if p := c.TerminationMessagePath; p != "" && p != "/dev/termination-log" {
		t.Fatalf("rendered container reads its termination message from %s, but the script writes /dev/termination-log", p)
	}

	dir := t.TempDir()
	run := &capRun{done: make(chan struct{}), outDir: o.outDir, termLog: filepath.Join(dir, "termination-log")}
	if run.outDir == "" {
		run.outDir = filepath.Join(dir, "out")
		if err := os.Mkdir(run.outDir, 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(run.outDir, 0o777); err != nil { // an emptyDir is world-writable
			t.Fatal(err)
		}
	}
	data := make(map[string]string, len(r.configMap.Data))
	for k, v := range r.configMap.Data {
		data[k] = v
	}
	for k, v := range o.data {
		data[k] = v
	}
	configDir := writeConfigMapVolume(t, filepath.Join(dir, "config"), data)

	// Volume mounts, in the container's order: source, target, ro|rw.
	var mounts []string
	for _, vm := range c.VolumeMounts {
		if vm.SubPath != "" || vm.SubPathExpr != "" {
			t.Fatalf("volume mount %s uses a subPath, which this harness does not emulate", vm.Name)
		}
		v := volume(t, r, vm.Name)
		var src string
		switch {
		case v.ConfigMap != nil:
			if v.ConfigMap.Name != r.configMap.Name {
				t.Fatalf("volume %s mounts ConfigMap %s, but the plan's ConfigMap is %s", v.Name, v.ConfigMap.Name, r.configMap.Name)
			}
			if len(v.ConfigMap.Items) > 0 {
				t.Fatalf("volume %s selects ConfigMap items, which this harness does not emulate", v.Name)
			}
			src = configDir
		case v.EmptyDir != nil, v.HostPath != nil, v.PersistentVolumeClaim != nil:
			src = run.outDir
		default:
			t.Fatalf("volume %s has a source this harness does not emulate", v.Name)
		}
		ensureMountPoint(t, vm.MountPath)
		ro := "rw"
		if vm.ReadOnly {
			ro = "ro"
		}
		mounts = append(mounts, src, vm.MountPath, ro)
	}
	// The image's /bin/sh.
	switch o.shell {
	case "", shellHost:
	case shellBash, shellBusybox:
		sh, err := filepath.EvalSymlinks("/bin/sh")
		if err != nil {
			t.Fatal(err)
		}
		with := requireTools(t, o.shell)[o.shell]
		mounts = append(mounts, with, sh, "ro")
	default:
		t.Fatalf("unknown shell %q", o.shell)
	}

	// Inside a Pod, HOSTNAME is the Pod's name.
	hostname := r.job.Name + "-abcde"
	if h, ok := o.env["HOSTNAME"]; ok {
		hostname = h
	}
	env := []string{"PATH=" + imagePath, "HOSTNAME=" + hostname}
	if o.shell == shellBusybox {
		env[0] = "PATH=" + busyboxPath(t)
	}
	if o.pathPrefix != "" {
		env[0] = "PATH=" + o.pathPrefix + ":" + strings.TrimPrefix(env[0], "PATH=")
	}
	for _, e := range c.Env {
		v := e.Value
		if e.ValueFrom != nil {
			v = fieldValue(t, r, e)
		}
		if ov, ok := o.env[e.Name]; ok {
			v = ov
		}
		env = append(env, e.Name+"="+v)
	}
	for k, v := range o.env {
		if !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == k }) {
			env = append(env, k+"="+v)
		}
	}
	// Test-only: where the kubelet would read /dev/termination-log.
	env = append(env, "TERMINATION_LOG="+run.termLog)

	workDir := c.WorkingDir
	if workDir == "" {
		workDir = "/"
	}
	// The capture Pod has its own mount, network, UTS and IPC namespaces,
	// and the host's PID namespace (hostPID).
	var argv []string
	if o.memCgroup != "" {
		argv = []string{tools["sh"], "-c", `echo $$ >"$0/cgroup.procs" && exec "$@"`, o.memCgroup}
	}
	argv = append(argv, tools["unshare"], "--mount", "--propagation", "private", "--net", "--uts", "--ipc", "--",
		tools["sh"], "-c", mountScript, "fpc-mounts", tools["mount"], workDir)
	argv = append(argv, mounts...)
	argv = append(argv, "--")
	argv = append(argv, securityArgv(t, c)...)
	argv = append(argv, c.Command...)
	run.args = c.Args
	if o.replaceArgs {
		run.args = o.args
	}
	// Without HOSTNAME the script names them after the job and the first target.
	me := hostname
	if me == "" && len(run.args) > 0 {
		pod, _, _ := strings.Cut(run.args[0], "/")
		me = "capture-" + data["job-id"] + "-" + pod
	}
	run.summaryFile, run.sumsFile = me+".summary.txt", "SHA256SUMS."+me
	argv = append(argv, run.args...)

	run.cmd = exec.Command(argv[0], argv[1:]...)
	run.cmd.Env = env
	run.cmd.Stdout = &run.stdout
	run.cmd.Stderr = &run.stderr
	run.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	run.started = time.Now()
	if err := run.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := run.cmd.Wait()
		run.ended = time.Now()
		run.exit = 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			run.exit = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				run.exit = 128 + int(ws.Signal())
			}
		} else if err != nil {
			run.exit = -1
		}
		close(run.done)
	}()
	t.Cleanup(func() {
		select {
		case <-run.done:
		default:
			// Only the process group this test started.
			_ = syscall.Kill(-run.cmd.Process.Pid, syscall.SIGKILL)
			<-run.done
		}
	})
	return run
}

// mountScript mounts the volumes in the private mount namespace, then runs
// the container's command: $1 mount, $2 working dir, then source, target,
// ro|rw triples up to --, then the command.
const mountScript = `set -eu
mount=$1 workdir=$2
shift 2
while [ "$1" != -- ]; do
	"$mount" --bind "$1" "$2"
	if [ "$3" = ro ]; then "$mount" -o remount,bind,ro "$2"; fi
	shift 3
done
shift
cd "$workdir"
exec "$@"
`

// securityArgv emulates the container's security context with setpriv:
// the added capabilities as the whole bounding set when ALL is dropped, and
// no_new_privs when privilege escalation is off. Privileged needs nothing.
func securityArgv(t *testing.T, c *corev1.Container) []string {
	t.Helper()
	sc := c.SecurityContext
	if sc == nil || (sc.Privileged != nil && *sc.Privileged) {
		return nil
	}
	if sc.RunAsUser != nil && *sc.RunAsUser != 0 {
		t.Fatalf("rendered container runs as uid %d; the capture needs root", *sc.RunAsUser)
	}
	argv := []string{toolPaths["setpriv"], "--inh-caps=-all"}
	if sc.Capabilities != nil {
		if !slices.Contains(sc.Capabilities.Drop, "ALL") {
			t.Fatalf("rendered container does not drop ALL capabilities; this harness emulates only drop-ALL-then-add")
		}
		if !slices.Contains(sc.Capabilities.Add, "SETGID") {
			t.Errorf("the rendered capabilities %v lack SETGID: tcpdump builds with a default user (Debian, Ubuntu, RHEL's support-tools) "+
				"call initgroups() to keep root under -Z root and fail without it", sc.Capabilities.Add)
		}
		set := "-all"
		for _, c := range sc.Capabilities.Add {
			set += ",+" + strings.ToLower(strings.TrimPrefix(string(c), "CAP_"))
		}
		argv = append(argv, "--bounding-set="+set)
	}
	if sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
		argv = append(argv, "--no-new-privs")
	}
	return append(argv, "--")
}

// volume returns the rendered pod's volume of that name.
func volume(t *testing.T, r rendered, name string) corev1.Volume {
	t.Helper()
	for _, v := range r.pod().Volumes {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("rendered Job mounts volume %s, which its pod does not define", name)
	return corev1.Volume{}
}

// fieldValue resolves an env var's fieldRef as the kubelet would for the
// capture Pod.
func fieldValue(t *testing.T, r rendered, e corev1.EnvVar) string {
	t.Helper()
	if e.ValueFrom.FieldRef == nil {
		t.Fatalf("env %s takes its value from a source this harness does not emulate", e.Name)
	}
	switch e.ValueFrom.FieldRef.FieldPath {
	case "metadata.name":
		return r.job.Name + "-abcde"
	case "metadata.namespace":
		return r.job.Namespace
	case "spec.nodeName":
		return r.pod().NodeName
	case "status.podIP":
		return "203.0.113.9"
	}
	t.Fatalf("env %s: fieldRef %s is not emulated", e.Name, e.ValueFrom.FieldRef.FieldPath)
	return ""
}

// writeConfigMapVolume lays data out the way the kubelet does: files in a
// timestamped directory, ..data pointing at it, and each key a symlink
// through ..data.
func writeConfigMapVolume(t *testing.T, dir string, data map[string]string) string {
	t.Helper()
	ts := "..2026_11_24_10_15_00.000000001"
	if err := os.MkdirAll(filepath.Join(dir, ts), 0o755); err != nil {
		t.Fatal(err)
	}
	for k, v := range data {
		if strings.Contains(k, "/") || strings.HasPrefix(k, "..") {
			t.Fatalf("ConfigMap key %q cannot be a file name", k)
		}
		if err := os.WriteFile(filepath.Join(dir, ts, k), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join("..data", k), filepath.Join(dir, k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(ts, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Mount points the tests had to create on the host; TestMain removes them.
var mountPoints struct {
	sync.Mutex
	created []string
}

// ensureMountPoint makes sure a directory exists at path for a bind mount.
func ensureMountPoint(t *testing.T, path string) {
	t.Helper()
	if !filepath.IsAbs(path) {
		t.Fatalf("mount path %q is not absolute", path)
	}
	mountPoints.Lock()
	defer mountPoints.Unlock()
	var missing []string
	for p := filepath.Clean(path); p != "/"; p = filepath.Dir(p) {
		if _, err := os.Lstat(p); err == nil {
			break
		}
		missing = append(missing, p)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], 0o755); err != nil {
			t.Fatal(err)
		}
		mountPoints.created = append(mountPoints.created, missing[i])
	}
}

var (
	busyboxOnce sync.Once
	busyboxDir  string
	busyboxErr  error
)

// busyboxPath returns a PATH of busybox applets (and tcpdump), like an
// Alpine image's.
func busyboxPath(t *testing.T) string {
	t.Helper()
	bb := requireTools(t, "busybox")["busybox"]
	busyboxOnce.Do(func() {
		busyboxDir, busyboxErr = os.MkdirTemp("", "fpc-busybox-")
		if busyboxErr != nil {
			return
		}
		var out []byte
		out, busyboxErr = exec.Command(bb, "--list").Output()
		for _, applet := range strings.Fields(string(out)) {
			if busyboxErr == nil && !strings.Contains(applet, "/") {
				busyboxErr = os.Symlink(bb, filepath.Join(busyboxDir, applet))
			}
		}
		if busyboxErr == nil {
			busyboxErr = os.Symlink(toolPaths["tcpdump"], filepath.Join(busyboxDir, "tcpdump"))
		}
	})
	if busyboxErr != nil {
		t.Fatal(busyboxErr)
	}
	return busyboxDir
}

// runLock is held shared by every run of these tests on the machine (from
// any checkout) while it runs. A run removes the mount points it created only
// when it can then take the lock exclusively: another run may have bind
// mounts on them, and removing one would pull it from under that run.
const runLock = "/run/fpc-netns-tests.lock"

func TestMain(m *testing.M) {
	lock, err := os.OpenFile(runLock, os.O_CREATE|os.O_RDWR, 0o600)
	if err == nil {
		err = syscall.Flock(int(lock.Fd()), syscall.LOCK_SH)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "no lock %s (%v): mount points are left in place\n", runLock, err)
	}
	hierarchies := cgroupHierarchies()
	code := m.Run()
	// A cgroup hierarchy the tests mounted would stay in the kernel and
	// slow every read of /proc/PID/cgroup on the machine.
	if left := cgroupHierarchies() - hierarchies; left > 0 {
		fmt.Fprintf(os.Stderr, "the tests left %d cgroup hierarchies in the kernel (see /proc/self/cgroup)\n", left)
		code = 1
	}
	mountPoints.Lock()
	switch {
	case len(mountPoints.created) == 0:
	case err != nil || syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil:
		fmt.Fprintf(os.Stderr, "mount points %v left in place: another run of these tests may use them\n", mountPoints.created)
	default:
		for i := len(mountPoints.created) - 1; i >= 0; i-- {
			if err := os.Remove(mountPoints.created[i]); err != nil {
				fmt.Fprintf(os.Stderr, "cannot remove mount point %s: %v\n", mountPoints.created[i], err)
			}
		}
	}
	mountPoints.Unlock()
	if busyboxDir != "" {
		_ = os.RemoveAll(busyboxDir)
	}
	os.Exit(code)
}

// signal sends sig to the capture script.
func (c *capRun) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := c.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// running tells whether the capture script still runs.
func (c *capRun) running() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// waitFor polls cond until it holds or the capture ends or timeout passes.
func (c *capRun) waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		if !c.running() {
			return cond()
		}
		time.Sleep(2 * time.Millisecond)
	}
	return cond()
}

// firstFile waits until tcpdump has created its first file, which it does
// once the capture is live.
func (c *capRun) firstFile(t *testing.T, timeout time.Duration) {
	t.Helper()
	if !c.waitFor(timeout, func() bool { return len(captureFiles(t, c.outDir)) > 0 }) {
		t.Fatalf("no capture file after %v\nstdout:\n%s\nstderr:\n%s", timeout, c.stdout.String(), c.stderr.String())
	}
}

// capturing waits until the capture file holds packets, not just tcpdump's
// 24-byte file header: on a loaded machine tcpdump may open its file well
// before it records anything.
func (c *capRun) capturing(t *testing.T, timeout time.Duration) {
	t.Helper()
	ok := c.waitFor(timeout, func() bool {
		for _, f := range captureFiles(t, c.outDir) {
			if fi, err := os.Stat(filepath.Join(c.outDir, f)); err == nil && fi.Size() > 24 {
				return true
			}
		}
		return false
	})
	if !ok {
		t.Fatalf("no packet captured after %v\nstdout:\n%s\nstderr:\n%s", timeout, c.stdout.String(), c.stderr.String())
	}
}

// wait waits for the capture to end and collects what it left.
func (c *capRun) wait(t *testing.T, timeout time.Duration) result {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(timeout):
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		<-c.done
		t.Fatalf("capture still running after %v\nstdout:\n%s\nstderr:\n%s", timeout, c.stdout.String(), c.stderr.String())
	}
	r := result{
		args:    c.args,
		exit:    c.exit,
		elapsed: c.ended.Sub(c.started),
		stdout:  c.stdout.String(),
		stderr:  c.stderr.String(),
		outDir:  c.outDir,
		files:   captureFiles(t, c.outDir),

		summaryFile: c.summaryFile,
		sumsFile:    c.sumsFile,
	}
	if b, err := os.ReadFile(c.termLog); err == nil {
		r.termLog = string(b)
	}
	r.summary, r.summaryErr = capture.ParseSummary(r.termLog)
	// The script waits for its tcpdumps: none may outlive it.
	for _, p := range groupProcs(c.cmd.Process.Pid) {
		if p.comm == "tcpdump" || p.comm == "nsenter" {
			t.Errorf("%s (pid %d) still runs after the script ended", p.comm, p.pid)
			_ = syscall.Kill(p.pid, syscall.SIGKILL)
		}
	}
	return r
}

// proc is a process of a capture's process group.
type proc struct {
	pid  int
	comm string
	// rssKiB is VmRSS, hwmKiB VmHWM (the peak), anonKiB RssAnon.
	rssKiB, hwmKiB, anonKiB int
}

// groupProcs lists the processes of process group pgid (the capture
// script's: the harness starts it as a group leader).
func groupProcs(pgid int) []proc {
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	var procs []proc
	for _, f := range dirs {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...
		open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		if open < 0 || end < open {
			continue
		}
		fields := strings.Fields(string(b[end+1:]))
		if len(fields) < 3 || fields[2] != strconv.Itoa(pgid) || fields[0] == "Z" {
			continue
		}
		p := proc{comm: string(b[open+1 : end])}
		p.pid, _ = strconv.Atoi(strings.TrimSpace(string(b[:open])))
		status, _ := os.ReadFile(filepath.Join(filepath.Dir(f), "status"))
		for _, line := range strings.Split(string(status), "\n") {
			k, v, _ := strings.Cut(line, ":")
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			switch k {
			case "VmRSS":
				p.rssKiB = n
			case "VmHWM":
				p.hwmKiB = n
			case "RssAnon":
				p.anonKiB = n
			}
		}
		procs = append(procs, p)
	}
	return procs
}

// pcapName matches the name of a PCAP file: .pcap, with tcpdump's rotation
// number after it.
var pcapName = regexp.MustCompile(`\.pcap\d*$`)

// captureFiles lists the PCAP files in dir, sorted.
func captureFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") && pcapName.MatchString(e.Name()) {
			files = append(files, e.Name())
		}
	}
	return files
}

// String describes a result for failure messages.
func (r result) String() string {
	return fmt.Sprintf("exit %d after %v\ntermination log:\n%s\nstdout:\n%s\nstderr:\n%s", r.exit, r.elapsed, r.termLog, r.stdout, r.stderr)
}

// lockedBuffer is a bytes.Buffer safe for a writer and a reader at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// cgroupHierarchies counts the cgroup hierarchies the kernel has: one line
// each in /proc/self/cgroup.
func cgroupHierarchies() int {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "\n")
}
