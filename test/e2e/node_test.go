//go:build e2e

package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Real nodes: each a containerd and a kubelet run as local processes, with
// every path, socket and port of its own, on a bridge of the test's own
// (bridgeName, 198.18.0.0/24: benchmark space, no uplink, no forwarding, no
// NAT). Pods get addresses on that bridge from the CNI bridge plugin. The
// facts behind each setting are in docs/e2e.md.
const (
	bridgeName   = "fpcnode0"
	bridgePrefix = 24
	// The images every node imports (ctr images import); nothing is pulled.
	pauseImage   = "e2e.local/fpce2e/pause:e2e"
	trafficImage = "e2e.local/fpce2e/traffic:e2e"
	captureImage = "e2e.local/fpce2e/capture:e2e"
)

// nodeNames are the real nodes' names.
var nodeNames = []string{"fpce2e-node1", "fpce2e-node2"}

// realNode is one node: its containerd and its kubelet.
type realNode struct {
	name string
	ip   string
	dir  string
	// cgroupRoot is the kubelet's cgroupRoot: "/" for the first node, a
	// root of its own for the next, so their kubepods cgroups never meet.
	cgroupRoot string
	// podRange is this node's share of the bridge's /24 (host-local).
	rangeStart, rangeEnd string
	sock                 string
	kubeletPort          int
	healthzPort          int

	containerd, kubelet *process
}

// hostSysctls are the host settings the kubelet rewrites (or that a node
// might touch): saved before the nodes start, restored after.
var hostSysctls = []string{
	"vm.overcommit_memory", "vm.panic_on_oom", "kernel.panic", "kernel.panic_on_oops",
	"kernel.keys.root_maxkeys", "kernel.keys.root_maxbytes", "net.ipv4.ip_forward",
}

// hostPaths are paths a kubelet, containerd or CNI may create outside
// their own directories. Those absent before must be absent after.
var hostPaths = []string{
	"/var/lib/cni", "/var/log/containers", "/var/log/pods", "/run/containerd", "/var/lib/kubelet",
	"/var/lib/containerd", "/etc/cni", "/opt/cni", "/opt/containerd", "/etc/kubernetes", "/run/kubernetes",
}

// hostState is what the test compares before and after the nodes.
type hostState struct {
	sysctls map[string]string
	paths   map[string]bool
	netns   []string
	links   []string
	cgroups []string
}

var cniLinkName = regexp.MustCompile(`^veth[0-9a-f]{8}$`)

// observeHost records the parts of the host the nodes may change.
func observeHost() (hostState, error) {
	s := hostState{sysctls: map[string]string{}, paths: map[string]bool{}}
	for _, k := range hostSysctls {
		b, err := os.ReadFile(sysctlPath(k))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return s, err
		}
		s.sysctls[k] = strings.TrimSpace(string(b))
	}
	for _, p := range hostPaths {
		_, err := os.Lstat(p)
		s.paths[p] = err == nil
	}
	ns, _ := filepath.Glob("/run/netns/cni-*")
	s.netns = ns
	ifaces, err := os.ReadDir("/sys/class/net")
	if err != nil {
		return s, err
	}
	for _, i := range ifaces {
		if i.Name() == bridgeName || cniLinkName.MatchString(i.Name()) {
			s.links = append(s.links, i.Name())
		}
	}
	for _, pattern := range []string{"/sys/fs/cgroup/*/kubepods", "/sys/fs/cgroup/*/node2"} {
		m, _ := filepath.Glob(pattern)
		s.cgroups = append(s.cgroups, m...)
	}
	return s, nil
}

// diff says how the host differs from before.
func (before hostState) diff(after hostState) []string {
	var out []string
	for k, v := range before.sysctls {
		if after.sysctls[k] != v {
			out = append(out, fmt.Sprintf("sysctl %s = %s, was %s", k, after.sysctls[k], v))
		}
	}
	for p, was := range before.paths {
		if after.paths[p] != was {
			out = append(out, fmt.Sprintf("%s exists=%t, before %t", p, after.paths[p], was))
		}
	}
	for _, c := range []struct {
		what          string
		before, after []string
	}{{"network namespace", before.netns, after.netns}, {"link", before.links, after.links}, {"cgroup", before.cgroups, after.cgroups}} {
		for _, a := range c.after {
			if !slices.Contains(c.before, a) {
				out = append(out, fmt.Sprintf("%s %s left behind", c.what, a))
			}
		}
	}
	slices.Sort(out)
	return out
}

func sysctlPath(k string) string {
	return filepath.Join("/proc/sys", strings.ReplaceAll(k, ".", "/"))
}

// nodes is the set of real nodes and what they share: the bridge, the host
// as it was found, the images.
type nodes struct {
	cp     *controlPlane
	dir    string
	before hostState
	list   []*realNode
	// scheduler is the kube-scheduler, which only real nodes need.
	scheduler *process
	images    map[string]string // image name -> tarball
	// lock is this run's hold on hostLock, from setUp to stopNodes.
	lock *os.File
	// recorded: hostRecord holds the host as these nodes found it, so
	// stopNodes may return it to that.
	recorded bool
}

// hostCleanup returns the host to how the test found it: what the kubelets
// and containerds could not clean themselves. It is safe to call twice.
func (ns *nodes) hostCleanup() []error {
	var errs []error
	// Shims outlive containerd: stop every process with an argument in our
	// directory (the shims' "-address SOCK"; after a run cut short, also its
	// containerds and kubelets), by PID.
	for _, pid := range processesWithArgUnder(ns.dir) {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("kill %d: %w", pid, err))
		}
	}
	// Container processes left in our kubepods cgroups (none once the
	// kubelets deleted their Pods).
	for _, root := range ns.cgroupRoots() {
		for _, pid := range cgroupProcs(root) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	time.Sleep(200 * time.Millisecond)
	// Mounts: every mount under our directory (the kubelets' volumes and
	// their rshared root bind, containerd's rootfs and shm) and the CNI
	// network namespaces made during the run, deepest first.
	for _, m := range mountsUnder(ns.dir, "/run/netns/cni-") {
		if strings.HasPrefix(m, "/run/netns/cni-") && slices.Contains(ns.before.netns, m) {
			continue
		}
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", m, err))
		}
	}
	netns, _ := filepath.Glob("/run/netns/cni-*")
	for _, p := range netns {
		if !slices.Contains(ns.before.netns, p) {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	// What the node parts made outside their directories and that did not
	// exist before.
	for _, p := range []string{"/var/lib/cni", "/var/log/containers", "/var/log/pods", "/run/containerd"} {
		if existed, known := ns.before.paths[p]; known && !existed {
			if err := os.RemoveAll(p); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if _, err := os.Stat("/sys/class/net/" + bridgeName); err == nil {
		if out, err := run("", nil, 30*time.Second, "ip", "link", "delete", bridgeName); err != nil {
			errs = append(errs, fmt.Errorf("delete bridge: %w %s", err, out))
		}
	}
	// cgroups, leaves first.
	for _, root := range ns.cgroupRoots() {
		if err := removeCgroupTree(root); err != nil {
			errs = append(errs, err)
		}
	}
	for k, v := range ns.before.sysctls {
		b, err := os.ReadFile(sysctlPath(k))
		if err == nil && strings.TrimSpace(string(b)) != v {
			if err := os.WriteFile(sysctlPath(k), []byte(v), 0o644); err != nil {
				errs = append(errs, fmt.Errorf("restore %s=%s: %w", k, v, err))
			}
		}
	}
	if ns.dir != "" {
		if err := os.RemoveAll(ns.dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// cgroupRoots are the cgroups the nodes made, in every hierarchy.
func (ns *nodes) cgroupRoots() []string {
	var out []string
	for _, pattern := range []string{"/sys/fs/cgroup/*/kubepods", "/sys/fs/cgroup/*/node2"} {
		m, _ := filepath.Glob(pattern)
		for _, p := range m {
			if !slices.Contains(ns.before.cgroups, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// removeCgroupTree removes a cgroup and its children, deepest first.
func removeCgroupTree(root string) error {
	var dirs []string
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	slices.SortFunc(dirs, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	var errs []error
	for _, d := range dirs {
		// A cgroup empties a moment after its last process exits.
		err := poll(10*time.Second, 100*time.Millisecond, func() (bool, string, error) {
			err := syscall.Rmdir(d)
			return err == nil || errors.Is(err, syscall.ENOENT), fmt.Sprint(err), nil
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("remove cgroup %s: %w", d, err))
		}
	}
	return errors.Join(errs...)
}

// cgroupProcs lists the processes in a cgroup tree.
func cgroupProcs(root string) []int {
	var pids []int
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "cgroup.procs" {
			return nil
		}
		b, _ := os.ReadFile(p)
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
		return nil
	})
	return pids
}

// processesWithArgUnder finds processes with an argument naming a path
// under dir (or, as "--flag=path", a flag set to one), e.g. a shim's
// "-address SOCK".
func processesWithArgUnder(dir string) []int {
	if dir == "" {
		return nil
	}
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		for _, a := range strings.Split(string(b), "\x00") {
			if _, v, ok := strings.Cut(a, "="); ok && strings.HasPrefix(a, "-") {
				a = v
			}
			if a == dir || strings.HasPrefix(a, dir+"/") {
				out = append(out, pid)
				break
			}
		}
	}
	return out
}

// mountsUnder lists mount points under any of the prefixes, deepest first.
func mountsUnder(prefixes ...string) []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		mp := strings.ReplaceAll(f[4], `\040`, " ")
		for _, p := range prefixes {
			if p != "" && strings.HasPrefix(mp, p) {
				out = append(out, mp)
				break
			}
		}
	}
	slices.SortStableFunc(out, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	return out
}

// A run cut short (SIGKILL, go test's own timeout) runs no teardown: its
// mounts, cgroups, bridge and the sysctls the kubelets rewrote stay. So
// while real nodes run, hostRecord holds the host as it was before them and
// the next run undoes what a cut-short one left, from that record. hostLock
// keeps two runs on one machine apart: their nodes would share the bridge,
// the cgroup names and the sysctls. Both live in /run, which a reboot
// empties along with everything they describe.
const (
	hostLock   = "/run/fpc-e2e-nodes.lock"
	hostRecord = "/run/fpc-e2e-nodes.json"
)

// hostRecordFile is hostState as hostRecord stores it, with the run's
// node directory.
type hostRecordFile struct {
	Dir     string            `json:"dir"`
	Sysctls map[string]string `json:"sysctls"`
	Paths   map[string]bool   `json:"paths"`
	Netns   []string          `json:"netns"`
	Links   []string          `json:"links"`
	Cgroups []string          `json:"cgroups"`
}

// lockHost waits until no other run on this machine has real nodes.
func (ns *nodes) lockHost() error {
	f, err := os.OpenFile(hostLock, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Minute)
	for waiting := false; ; {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			ns.lock = f
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			f.Close()
			return fmt.Errorf("lock %s (held by another run's real nodes): %w", hostLock, err)
		}
		if !waiting {
			fmt.Printf("e2e: another run's real nodes hold %s: waiting for them to end (at most 30 min)\n", hostLock)
			waiting = true
		}
		time.Sleep(2 * time.Second)
	}
}

// unlockHost ends this run's hold on the host.
func (ns *nodes) unlockHost() {
	if ns.lock != nil {
		ns.lock.Close()
		ns.lock = nil
	}
}

// undoCutShortRun returns the host to how a run cut short found it, from
// its record; it says what it undid. Call it holding the lock.
func undoCutShortRun() (string, error) {
	b, err := os.ReadFile(hostRecord)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	var r hostRecordFile
	if err := json.Unmarshal(b, &r); err != nil || r.Dir == "" {
		return "", fmt.Errorf("%s is not a record of this test's nodes (%v): check the host by hand, then delete it", hostRecord, err)
	}
	stale := &nodes{dir: r.Dir, before: hostState{sysctls: r.Sysctls, paths: r.Paths, netns: r.Netns, links: r.Links, cgroups: r.Cgroups}}
	if errs := stale.hostCleanup(); len(errs) > 0 {
		return r.Dir, fmt.Errorf("undo the run cut short in %s: %w", r.Dir, errors.Join(errs...))
	}
	// The run's control plane files beside its nodes (its processes died
	// with it: Pdeathsig).
	if run := filepath.Dir(r.Dir); strings.HasPrefix(filepath.Base(run), "fpc-e2e-") {
		_ = os.RemoveAll(run)
	}
	return r.Dir, os.Remove(hostRecord)
}

// writeHostRecord records the host as the nodes found it.
func (ns *nodes) writeHostRecord() error {
	b, err := json.Marshal(hostRecordFile{Dir: ns.dir, Sysctls: ns.before.sysctls, Paths: ns.before.paths,
		Netns: ns.before.netns, Links: ns.before.links, Cgroups: ns.before.cgroups})
	if err != nil {
		return err
	}
	tmp := hostRecord + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, hostRecord)
}

// setUp makes the bridge and the node directories and records the host,
// first undoing what a run cut short left on it.
func (ns *nodes) setUp(count int) error {
	if err := ns.lockHost(); err != nil {
		return err
	}
	if dir, err := undoCutShortRun(); err != nil {
		return err
	} else if dir != "" {
		fmt.Printf("e2e: a run cut short left its nodes (%s) on the host: undone from %s\n", dir, hostRecord)
	}
	var err error
	if ns.before, err = observeHost(); err != nil {
		return err
	}
	if slices.Contains(ns.before.links, bridgeName) {
		return fmt.Errorf("the bridge %s exists already, and no run of this test recorded it: delete it (ip link delete %s) after checking nothing uses it", bridgeName, bridgeName)
	}
	for _, c := range ns.before.cgroups {
		return fmt.Errorf("cgroup %s exists already, and no run of this test recorded it: a kubelet runs on this machine (stop it), or it is left from a run older than %s (remove it with rmdir, leaves first)", c, hostRecord)
	}
	ns.dir = filepath.Join(ns.cp.dir, "nodes")
	if err := ns.writeHostRecord(); err != nil {
		return fmt.Errorf("record the host in %s: %w", hostRecord, err)
	}
	ns.recorded = true
	for _, args := range [][]string{
		{"link", "add", bridgeName, "type", "bridge"},
		{"link", "set", bridgeName, "up"},
	} {
		if out, err := run("", nil, 30*time.Second, "ip", args...); err != nil {
			return fmt.Errorf("ip %v: %w %s", args, err, out)
		}
	}
	for i := range count {
		n := &realNode{
			name:       nodeNames[i],
			ip:         fmt.Sprintf("198.18.0.%d", i+1),
			dir:        filepath.Join(ns.dir, fmt.Sprintf("node%d", i+1)),
			cgroupRoot: "/",
			rangeStart: fmt.Sprintf("198.18.0.%d", 16+i*112),
			rangeEnd:   fmt.Sprintf("198.18.0.%d", 16+i*112+111),
		}
		if i > 0 {
			n.cgroupRoot = fmt.Sprintf("/node%d", i+1)
		}
		n.sock = filepath.Join(n.dir, "containerd.sock")
		if out, err := run("", nil, 30*time.Second, "ip", "addr", "add", fmt.Sprintf("%s/%d", n.ip, bridgePrefix), "dev", bridgeName); err != nil {
			return fmt.Errorf("address %s: %w %s", n.ip, err, out)
		}
		ns.list = append(ns.list, n)
	}
	return nil
}

// makeCgroupRoot creates a kubelet's cgroupRoot in every hierarchy (the
// kubelet refuses a missing root), with cpuset's cpus and mems copied from
// the top so processes can join it.
func makeCgroupRoot(root string) error {
	hier, err := filepath.Glob("/sys/fs/cgroup/*")
	if err != nil {
		return err
	}
	for _, h := range hier {
		if fi, err := os.Lstat(h); err != nil || !fi.IsDir() {
			continue
		}
		d := filepath.Join(h, root)
		if err := os.Mkdir(d, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
		if filepath.Base(h) == "cpuset" {
			for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
				b, err := os.ReadFile(filepath.Join(h, f))
				if err != nil {
					return err
				}
				if err := os.WriteFile(filepath.Join(d, f), b, 0o644); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// start starts a node's containerd, imports the images, then its kubelet.
func (ns *nodes) start(n *realNode, ca, kubeconfig string) error {
	for _, d := range []string{"containerd", "cni", "kubelet", "kubelet-pki", "pod-logs", "cni-ipam", "runc"} {
		if err := os.MkdirAll(filepath.Join(n.dir, d), 0o755); err != nil {
			return err
		}
	}
	cni := fmt.Sprintf(`{
  "cniVersion": "0.4.0",
  "name": "fpce2e",
  "plugins": [{
    "type": "bridge",
    "bridge": %q,
    "isGateway": false,
    "isDefaultGateway": false,
    "ipMasq": false,
    "hairpinMode": false,
    "ipam": {
      "type": "host-local",
      "ranges": [[{"subnet": "198.18.0.0/24", "rangeStart": %q, "rangeEnd": %q}]],
      "dataDir": %q
    }
  }]
}
`, bridgeName, n.rangeStart, n.rangeEnd, filepath.Join(n.dir, "cni-ipam"))
	if err := os.WriteFile(filepath.Join(n.dir, "cni", "10-fpce2e.conflist"), []byte(cni), 0o644); err != nil {
		return err
	}
	// containerd 1.6 (Debian 12). root here lacks CAP_SYS_RESOURCE, so the
	// default sandbox oom_score_adj (-998) fails every sandbox:
	// restrict_oom_score_adj. No systemd, cgroup v1: cgroupfs.
	config := fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
[grpc]
  address = %[3]q
[ttrpc]
  address = %[4]q
[debug]
  level = "info"
[metrics]
  address = ""
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = %[5]q
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = %[6]q
    restrict_oom_score_adj = true
    disable_apparmor = true
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    netns_mounts_under_state_dir = true
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false
          BinaryName = %[7]q
          Root = %[8]q
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = %[9]q
      conf_dir = %[10]q
      max_conf_num = 1
`, filepath.Join(n.dir, "containerd", "root"), filepath.Join(n.dir, "containerd", "state"), n.sock, n.sock+".ttrpc",
		filepath.Join(n.dir, "containerd", "opt"), pauseImage, ns.cp.bins.runc, filepath.Join(n.dir, "runc"),
		ns.cp.bins.cniBinDir, filepath.Join(n.dir, "cni"))
	cfgPath := filepath.Join(n.dir, "containerd.toml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o644); err != nil {
		return err
	}
	var err error
	n.containerd, err = ns.cp.start("containerd-"+n.name, ns.cp.bins.containerd, []string{"--config", cfgPath}, nil)
	if err != nil {
		return err
	}
	if err := poll(60*time.Second, 250*time.Millisecond, func() (bool, string, error) {
		if done, err := n.containerd.exited(); done {
			return false, "", fmt.Errorf("containerd exited: %v\n%s", err, n.containerd.tail(40))
		}
		out, err := run("", nil, 20*time.Second, ns.cp.bins.ctr, "--address", n.sock, "version")
		return err == nil, out, nil
	}); err != nil {
		return fmt.Errorf("containerd of %s: %w", n.name, err)
	}
	for _, img := range slices.Sorted(maps.Keys(ns.images)) {
		if out, err := run("", nil, 5*time.Minute, ns.cp.bins.ctr, "--address", n.sock, "-n", "k8s.io", "images", "import", ns.images[img]); err != nil {
			return fmt.Errorf("import %s into %s: %w %s", img, n.name, err, out)
		}
	}

	if n.cgroupRoot != "/" {
		if err := makeCgroupRoot(n.cgroupRoot); err != nil {
			return err
		}
	}
	if n.kubeletPort, err = freePort(); err != nil {
		return err
	}
	if n.healthzPort, err = freePort(); err != nil {
		return err
	}
	// No nameserver: Pods get no DNS, and need none.
	resolv := filepath.Join(n.dir, "resolv.conf")
	if err := os.WriteFile(resolv, []byte("options ndots:1\n"), 0o644); err != nil {
		return err
	}
	kc := fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: %s
port: %d
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: %d
containerRuntimeEndpoint: unix://%s
cgroupDriver: cgroupfs
cgroupRoot: %s
failCgroupV1: false
failSwapOn: false
resolvConf: %s
podLogsDir: %s
seccompDefault: true
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: %s
authorization:
  mode: Webhook
# The disk may be fuller than a real node's: no image GC (the images were
# imported, nothing could pull them back), evictions only when truly short.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%%
  nodefs.inodesFree: 1%%
  imagefs.available: 1%%
maxPods: 110
serializeImagePulls: false
`, n.ip, n.kubeletPort, n.healthzPort, n.sock, n.cgroupRoot, resolv, filepath.Join(n.dir, "pod-logs"), ca)
	kcPath := filepath.Join(n.dir, "kubelet.yaml")
	if err := os.WriteFile(kcPath, []byte(kc), 0o644); err != nil {
		return err
	}
	// A PATH without iptables (in /usr/sbin), so the kubelet leaves the
	// host's firewall alone.
	n.kubelet, err = ns.cp.start("kubelet-"+n.name, ns.cp.bins.kubelet, []string{
		"--config=" + kcPath,
		"--kubeconfig=" + kubeconfig,
		"--hostname-override=" + n.name,
		"--node-ip=" + n.ip,
		"--root-dir=" + filepath.Join(n.dir, "kubelet"),
		"--cert-dir=" + filepath.Join(n.dir, "kubelet-pki"),
		"--v=1",
	}, []string{"PATH=/usr/bin:/bin"})
	return err
}

// waitReady waits until every node is Ready.
func (ns *nodes) waitReady(k *kube) error {
	return poll(3*time.Minute, time.Second, func() (bool, string, error) {
		var state []string
		for _, n := range ns.list {
			if done, err := n.kubelet.exited(); done {
				return false, "", fmt.Errorf("kubelet of %s exited: %v\n%s", n.name, err, n.kubelet.tail(60))
			}
			if done, err := n.containerd.exited(); done {
				return false, "", fmt.Errorf("containerd of %s exited: %v\n%s", n.name, err, n.containerd.tail(60))
			}
			u, found, err := k.get("node", "", n.name)
			if err != nil || !found {
				state = append(state, n.name+" not registered")
				continue
			}
			s, reason, msg := condition(u, "Ready")
			if s != "True" {
				state = append(state, fmt.Sprintf("%s Ready=%s %s %s", n.name, s, reason, msg))
			}
		}
		return len(state) == 0, strings.Join(state, "; "), nil
	})
}

// stopNodes ends the nodes as a careful admin would: Pods deleted through
// the API while their kubelets run (the kubelets stop the containers, tear
// the CNI down, unmount the volumes), then the kubelets and containerds,
// then whatever they left on the host. It fails when the host is not as
// it was.
func (ns *nodes) stopNodes(k *kube) error {
	var errs []error
	if ns.scheduler != nil {
		ns.scheduler.stop(10 * time.Second)
	}
	names := make([]string, 0, len(ns.list))
	for _, n := range ns.list {
		names = append(names, n.name)
	}
	// No one may make new Pods for the nodes: Crossplane would re-compose
	// capture Jobs, whose Pods name their node themselves.
	for _, p := range ns.cp.procs {
		if p.name == "crossplane" {
			p.stop(15 * time.Second)
		}
	}
	for _, kind := range []string{"jobs", "deployments", "replicasets"} {
		if _, err := k.run("", "delete", kind, "--all", "--all-namespaces", "--wait=false", "--cascade=background"); err != nil {
			errs = append(errs, err)
		}
	}
	podsLeft := func() ([]string, error) {
		out, err := k.run("", "get", "pods", "-A", "-o", `jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name} {.spec.nodeName}{"\n"}{end}`)
		if err != nil {
			return nil, err
		}
		var left []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Fields(l)
			if len(f) == 2 && slices.Contains(names, f[1]) {
				left = append(left, f[0])
			}
		}
		return left, nil
	}
	if err := poll(3*time.Minute, 2*time.Second, func() (bool, string, error) {
		left, err := podsLeft()
		if err != nil {
			return false, err.Error(), nil
		}
		for _, p := range left {
			ns, name, _ := strings.Cut(p, "/")
			_ = k.delete("pod", ns, name, "--grace-period=2")
		}
		return len(left) == 0, fmt.Sprintf("Pods on the nodes: %v", left), nil
	}); err != nil {
		errs = append(errs, fmt.Errorf("deleting the nodes' Pods through their kubelets: %w", err))
	}
	for _, n := range ns.list {
		if n.kubelet != nil {
			n.kubelet.stop(20 * time.Second)
		}
		if n.containerd != nil {
			n.containerd.stop(20 * time.Second)
		}
	}
	defer ns.unlockHost()
	if !ns.recorded {
		// setUp stopped before the nodes touched the host: what is there
		// belongs to someone else.
		return errors.Join(errs...)
	}
	cleanupErrs := ns.hostCleanup()
	if len(cleanupErrs) == 0 {
		// Undone: the next run has nothing to undo.
		if err := os.Remove(hostRecord); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	errs = append(errs, cleanupErrs...)
	after, err := observeHost()
	if err != nil {
		errs = append(errs, err)
	} else if d := ns.before.diff(after); len(d) > 0 {
		errs = append(errs, fmt.Errorf("the host is not as the test found it:\n  %s", strings.Join(d, "\n  ")))
	}
	return errors.Join(errs...)
}

// buildImages builds the pause, traffic and capture images as tarballs in
// dir with tools/image, the capture image exactly as `make capture-image`
// builds it.
func buildImages(root, dir string) (map[string]string, error) {
	tool := filepath.Join(dir, "image")
	if out, err := run(filepath.Join(root, "tools", "image"), nil, 10*time.Minute, "go", "build", "-o", tool, "."); err != nil {
		return nil, fmt.Errorf("build tools/image: %w %s", err, out)
	}
	images := map[string]string{}
	for _, prog := range []struct{ name, ref string }{{"pause", pauseImage}, {"traffic", trafficImage}} {
		bin := filepath.Join(dir, prog.name)
		if out, err := run(filepath.Join(root, "test", "e2e"), []string{"CGO_ENABLED=0"}, 10*time.Minute, "go", "build", "-o", bin, "./images/"+prog.name); err != nil {
			return nil, fmt.Errorf("build %s: %w %s", prog.name, err, out)
		}
		tar := bin + ".tar"
		if out, err := run(dir, nil, 5*time.Minute, tool, "static", "-binary", bin, "-entrypoint", prog.name, "-tag", prog.ref, "-o", tar); err != nil {
			return nil, fmt.Errorf("image %s: %w %s", prog.name, err, out)
		}
		images[prog.ref] = tar
	}
	tar := filepath.Join(dir, "capture.tar")
	if out, err := run(dir, nil, 5*time.Minute, tool, "capture", "-tag", captureImage, "-o", tar); err != nil {
		return nil, fmt.Errorf("capture image: %w %s", err, out)
	}
	images[captureImage] = tar
	return images, nil
}
