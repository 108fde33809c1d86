package netns

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// requireEnv is set (to 1) where the netns tests must run, e.g. in CI.
const requireEnv = "FPC_REQUIRE_NETNS"

// Addresses of the miniature node: a documentation range, used only inside
// the namespaces the tests create.
const (
	podIP  = "198.51.100.1"
	peerIP = "198.51.100.2"
)

// cannotRun skips the test, or fails it where the tests are required.
func cannotRun(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv(requireEnv) == "1" {
		t.Fatalf("cannot run netns tests (%s=1): "+format, append([]any{requireEnv}, args...)...)
	}
	t.Skipf("cannot run netns tests: "+format+" (set %s=1 to make this a failure)", append(args, requireEnv)...)
}

// tools are the host programs the tests need, by name, resolved once.
var (
	toolsOnce sync.Once
	toolPaths map[string]string
	toolsErr  error
)

func requireTools(t *testing.T, extra ...string) map[string]string {
	t.Helper()
	toolsOnce.Do(func() {
		toolPaths = make(map[string]string)
		var missing []string
		for _, name := range []string{"ip", "tcpdump", "nsenter", "unshare", "setpriv", "mount", "umount", "sleep", "sh"} {
			p, err := exec.LookPath(name)
			if err != nil {
				missing = append(missing, name)
				continue
			}
			toolPaths[name] = p
		}
		if len(missing) > 0 {
			toolsErr = fmt.Errorf("missing %s (apt-get install -y tcpdump iproute2 util-linux)", strings.Join(missing, ", "))
		}
	})
	if os.Geteuid() != 0 {
		cannotRun(t, "not root (uid %d)", os.Geteuid())
	}
	if toolsErr != nil {
		cannotRun(t, "%v", toolsErr)
	}
	for _, name := range extra {
		if _, ok := toolPaths[name]; ok {
			continue
		}
		p, err := exec.LookPath(name)
		if err != nil {
			cannotRun(t, "missing %s", name)
		}
		toolPaths[name] = p
	}
	return toolPaths
}

// randomHex returns n random hex digits.
func randomHex(n int) string {
	b := make([]byte, (n+1)/2)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)[:n]
}

// newUID returns a random Pod uid (a version 4 UUID, as the API server makes).
func newUID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// run runs a command and fails the test with its output when it fails.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// node is a node in miniature: a target Pod (network namespace, processes in
// a cgroup that carries its uid) and a peer that talks to it.
type node struct {
	id     string
	podNS  string
	peerNS string
	uid    string
	// appPID is the Pod's app process, pausePID its infra ("pause")
	// process; both live in the pod namespace and in the Pod's cgroup.
	appPID   int
	pausePID int
	// cgroupDirs are the container cgroups, under cgRoot: this node's
	// directory in a cgroup hierarchy of the machine.
	cgroupDirs []string
	cgRoot     string
	// procs are the processes started in the pod namespace.
	procs []*exec.Cmd
}

// newNode builds a node and removes every part of it when the test ends.
func newNode(t *testing.T) *node {
	t.Helper()
	tools := requireTools(t)
	n := &node{id: randomHex(6), uid: newUID()}
	n.podNS = "fpc-" + n.id + "-pod"
	n.peerNS = "fpc-" + n.id + "-peer"
	vethPod, vethPeer := "fpc"+n.id+"p", "fpc"+n.id+"q"

	for _, ns := range []string{n.podNS, n.peerNS} {
		if out, err := exec.Command(tools["ip"], "netns", "add", ns).CombinedOutput(); err != nil {
			cannotRun(t, "ip netns add: %v: %s", err, out)
		}
		t.Cleanup(func() { _ = exec.Command(tools["ip"], "netns", "delete", ns).Run() })
	}
	// Created in the pod namespace, so the host never holds either end.
	run(t, tools["ip"], "-n", n.podNS, "link", "add", vethPod, "type", "veth", "peer", "name", vethPeer, "netns", n.peerNS)
	run(t, tools["ip"], "-n", n.podNS, "addr", "add", podIP+"/24", "dev", vethPod)
	run(t, tools["ip"], "-n", n.peerNS, "addr", "add", peerIP+"/24", "dev", vethPeer)
	for _, c := range [][]string{
		{"-n", n.podNS, "link", "set", "lo", "up"},
		{"-n", n.podNS, "link", "set", vethPod, "up"},
		{"-n", n.peerNS, "link", "set", "lo", "up"},
		{"-n", n.peerNS, "link", "set", vethPeer, "up"},
	} {
		run(t, tools["ip"], c...)
	}
	// Static neighbours: no ARP in the captures, no first-packet delay.
	podMAC := linkMAC(t, n.podNS, vethPod)
	peerMAC := linkMAC(t, n.peerNS, vethPeer)
	run(t, tools["ip"], "-n", n.peerNS, "neigh", "replace", podIP, "lladdr", podMAC, "dev", vethPeer, "nud", "permanent")
	run(t, tools["ip"], "-n", n.podNS, "neigh", "replace", peerIP, "lladdr", peerMAC, "dev", vethPod, "nud", "permanent")

	// A cgroup directory of our own in a hierarchy the machine already
	// has, with the Pod's cgroup under it as the kubelet's cgroupfs driver
	// names it. None is mounted: a cgroup v1 hierarchy outlives its umount
	// in the kernel, every /proc/PID/cgroup lists it, and with 1,300 of
	// them left by earlier runs one read of that file took 18 ms.
	hierarchy, err := cgroupHierarchy()
	if err != nil {
		cannotRun(t, "%v", err)
	}
	cgRoot := filepath.Join(hierarchy, "fpc-netns-"+n.id)
	n.cgRoot = cgRoot
	if err := os.Mkdir(cgRoot, 0o755); err != nil {
		cannotRun(t, "cannot create a cgroup: %v", err)
	}
	t.Cleanup(func() {
		for i := len(n.cgroupDirs) - 1; i >= 0; i-- {
			removeCgroup(t, n.cgroupDirs[i], cgRoot, hierarchy)
		}
		if err := unix.Rmdir(cgRoot); err != nil {
			t.Errorf("rmdir %s: %v", cgRoot, err)
		}
	})
	podCgroup := filepath.Join(cgRoot, "kubepods", "burstable", "pod"+n.uid)
	pauseDir := filepath.Join(podCgroup, randomHex(64))
	appDir := filepath.Join(podCgroup, randomHex(64))
	for _, d := range []string{pauseDir, appDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		n.cgroupDirs = append(n.cgroupDirs, d)
	}

	// The infra process first, so a scan of /proc meets it first: the
	// script must still prefer the app process.
	pauseBin := filepath.Join(t.TempDir(), "pause")
	copyFile(t, tools["sleep"], pauseBin, 0o755)
	n.pausePID = n.startInPod(t, pauseDir, pauseBin, "300")
	n.appPID = n.startInPod(t, appDir, tools["sleep"], "300")
	return n
}

// startInPod starts a long-lived process in the pod namespace and cgroup.
func (n *node) startInPod(t *testing.T, cgroupDir string, argv ...string) int {
	t.Helper()
	cmd := exec.Command(toolPaths["ip"], append([]string{"netns", "exec", n.podNS}, argv...)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	n.procs = append(n.procs, cmd)
	pid := cmd.Process.Pid
	if err := os.WriteFile(filepath.Join(cgroupDir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
		t.Fatalf("move %d into %s: %v", pid, cgroupDir, err)
	}
	// Wait until ip has entered the namespace and exec'd the program.
	want := filepath.Base(argv[0])
	deadline := time.Now().Add(5 * time.Second)
	for {
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if strings.TrimSpace(string(comm)) == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d did not become %s", pid, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got, want := nsID(t, fmt.Sprintf("/proc/%d/ns/net", pid)), nsID(t, "/run/netns/"+n.podNS); got != want {
		t.Fatalf("process %d is in netns %s, want the pod's %s", pid, got, want)
	}
	return pid
}

// removeCgroup moves any process left in dir back to the hierarchy's root
// and removes dir and its parents up to the root.
func removeCgroup(t *testing.T, dir, root, top string) {
	if procs, err := os.ReadFile(filepath.Join(dir, "cgroup.procs")); err == nil {
		for _, p := range strings.Fields(string(procs)) {
			_ = os.WriteFile(filepath.Join(top, "cgroup.procs"), []byte(p), 0o644)
		}
	}
	for d := dir; d != root && strings.HasPrefix(d, root); d = filepath.Dir(d) {
		if err := unix.Rmdir(d); err != nil && err != unix.ENOENT && err != unix.ENOTEMPTY && err != unix.EBUSY {
			t.Errorf("rmdir %s: %v", d, err)
		}
	}
}

// cgroupHierarchy is where a cgroup v1 hierarchy without controllers
// (name=systemd) or else the cgroup v2 hierarchy is mounted: a directory
// there moves a process in that hierarchy only, and limits nothing.
func cgroupHierarchy() (string, error) {
	mounts, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return "", err
	}
	var v2 string
	for _, line := range strings.Split(string(mounts), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		switch {
		case f[2] == "cgroup" && slices.Contains(strings.Split(f[3], ","), "name=systemd"):
			return f[1], nil
		case f[2] == "cgroup2" && v2 == "":
			v2 = f[1]
		}
	}
	if v2 == "" {
		return "", fmt.Errorf("no cgroup hierarchy without controllers (name=systemd, or cgroup2) is mounted")
	}
	return v2, nil
}

func linkMAC(t *testing.T, ns, link string) string {
	t.Helper()
	var mac string
	inNetns(t, ns, func() error {
		ifc, err := net.InterfaceByName(link)
		if err != nil {
			return err
		}
		mac = ifc.HardwareAddr.String()
		return nil
	})
	return mac
}

func nsID(t *testing.T, path string) string {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatalf("stat %s: %v", path, err)
	}
	return fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}

// inNetns runs fn on an OS thread that has entered the named network
// namespace. Sockets fn creates stay in that namespace. The thread goes back
// to its own namespace after fn, or is thrown away when it cannot.
func inNetns(t *testing.T, ns string, fn func() error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		own, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			errc <- err
			return
		}
		defer own.Close()
		target, err := os.Open("/run/netns/" + ns)
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(own.Fd()), unix.CLONE_NEWNET); err != nil {
			// The thread stays locked and dies with this goroutine.
			errc <- fmt.Errorf("setns back: %w", err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// addPod starts a process of another Pod, of uid, in the pod namespace and in
// a container cgroup of that Pod, as a container that (re)starts does.
func (n *node) addPod(t *testing.T, uid string) int {
	t.Helper()
	dir := filepath.Join(n.cgRoot, "kubepods", "burstable", "pod"+uid, randomHex(64))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	n.cgroupDirs = append(n.cgroupDirs, dir)
	return n.startInPod(t, dir, toolPaths["sleep"], "300")
}

// deletePod ends every process of the Pod, as the kubelet does when the Pod
// is deleted, and reaps them. The pod namespace lives on, as a namespace
// that a tcpdump holds does.
func (n *node) deletePod(t *testing.T) {
	t.Helper()
	for _, cmd := range n.procs {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
}
