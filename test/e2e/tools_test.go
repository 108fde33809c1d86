//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

// binaries are the programs a control plane runs.
type binaries struct {
	etcd, kubeAPIServer, kubeControllerManager, crossplane, kubectl string
	// The node's: kubelet and kube-scheduler from tools/kubernetes;
	// containerd, runc and the CNI plugins from Debian.
	kubelet, kubeScheduler, containerd, ctr, runc, cniBinDir string
	// crossplaneModule is Crossplane's module directory, for its CRDs.
	crossplaneModule string
}

// toolsCache is where pinned binaries are kept between runs, outside the
// repository (the same cache hack/crossplane.sh uses).
func toolsCache() string {
	if d := os.Getenv("FPC_TOOLS_CACHE"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "fpc-tools")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "fpc-tools")
}

// pinnedVersion reads the version a tools module requires of mod.
func pinnedVersion(goMod, mod string) (string, error) {
	b, err := os.ReadFile(goMod)
	if err != nil {
		return "", err
	}
	m := regexp.MustCompile(`(?m)^\s*(?:require\s+)?` + regexp.QuoteMeta(mod) + `\s+(v\S+)`).FindSubmatch(b)
	if m == nil {
		return "", fmt.Errorf("%s does not require %s", goMod, mod)
	}
	return string(m[1]), nil
}

// buildResult says what building one tool took.
type buildResult struct {
	name    string
	cached  bool
	elapsed time.Duration
	err     error
}

// buildTools builds, once per version, the control plane's binaries from the
// tools modules under root/tools, concurrently; etcd and kubectl come from
// the machine. logf receives one line per tool.
func buildTools(root string, logf func(string, ...any)) (*binaries, error) {
	cache := toolsCache()
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return nil, err
	}
	kubeMod := filepath.Join(root, "tools", "kubernetes")
	xpMod := filepath.Join(root, "tools", "crossplane-core")
	kubeVersion, err := pinnedVersion(filepath.Join(kubeMod, "go.mod"), "k8s.io/kubernetes")
	if err != nil {
		return nil, err
	}
	xpVersion, err := pinnedVersion(filepath.Join(xpMod, "go.mod"), "github.com/crossplane/crossplane/v2")
	if err != nil {
		return nil, err
	}
	b := &binaries{
		kubeAPIServer:         filepath.Join(cache, "kube-apiserver-"+kubeVersion),
		kubeControllerManager: filepath.Join(cache, "kube-controller-manager-"+kubeVersion),
		crossplane:            filepath.Join(cache, "crossplane-core-"+xpVersion),
		kubelet:               filepath.Join(cache, "kubelet-"+kubeVersion),
		kubeScheduler:         filepath.Join(cache, "kube-scheduler-"+kubeVersion),
		cniBinDir:             "/usr/lib/cni",
	}
	for name, dst := range map[string]*string{"etcd": &b.etcd, "kubectl": &b.kubectl, "containerd": &b.containerd, "ctr": &b.ctr, "runc": &b.runc} {
		p, err := exec.LookPath(name)
		if err != nil {
			return nil, fmt.Errorf("%s is not installed (etcd: apt-get install etcd-server; containerd, ctr, runc: apt-get install containerd runc; kubectl comes with the machine): %w", name, err)
		}
		*dst = p
	}
	if _, err := os.Stat(filepath.Join(b.cniBinDir, "bridge")); err != nil {
		return nil, fmt.Errorf("the CNI plugins are not installed: apt-get install containernetworking-plugins: %w", err)
	}
	out, err := run(xpMod, nil, 10*time.Minute, "go", "list", "-m", "-f", "{{.Dir}}", "github.com/crossplane/crossplane/v2")
	if err != nil {
		return nil, err
	}
	b.crossplaneModule = strings.TrimSpace(out)

	// Version strings the binaries report, as a release build would.
	major, minor, _ := strings.Cut(strings.TrimPrefix(kubeVersion, "v"), ".")
	minor, _, _ = strings.Cut(minor, ".")
	kubeLDFlags := fmt.Sprintf("-s -w -X k8s.io/component-base/version.gitVersion=%s -X k8s.io/component-base/version.gitMajor=%s -X k8s.io/component-base/version.gitMinor=%s -X k8s.io/client-go/pkg/version.gitVersion=%s",
		kubeVersion, major, minor, kubeVersion)
	// Crossplane checks packages' spec.crossplane.version against its own.
	xpLDFlags := "-s -w -X github.com/crossplane/crossplane/v2/internal/version.version=" + xpVersion

	jobs := []struct {
		name, module, ldflags string
		pkgs, outs            []string
	}{
		{"kube-apiserver+kube-controller-manager " + kubeVersion, kubeMod, kubeLDFlags,
			[]string{"k8s.io/kubernetes/cmd/kube-apiserver", "k8s.io/kubernetes/cmd/kube-controller-manager"},
			[]string{b.kubeAPIServer, b.kubeControllerManager}},
		{"kubelet+kube-scheduler " + kubeVersion, kubeMod, kubeLDFlags,
			[]string{"k8s.io/kubernetes/cmd/kubelet", "k8s.io/kubernetes/cmd/kube-scheduler"},
			[]string{b.kubelet, b.kubeScheduler}},
		{"crossplane core " + xpVersion, xpMod, xpLDFlags,
			[]string{"github.com/crossplane/crossplane/v2/cmd/crossplane"},
			[]string{b.crossplane}},
	}
	results := make([]buildResult, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = buildOnce(j.name, j.module, j.ldflags, j.pkgs, j.outs)
		}()
	}
	wg.Wait()
	for _, r := range results {
		if r.err != nil {
			return nil, r.err
		}
		how := "built"
		if r.cached {
			how = "cached"
		}
		logf("tools: %-58s %-6s %6.1fs", r.name, how, r.elapsed.Seconds())
	}
	return b, nil
}

// buildOnce builds pkgs into outs unless every out exists. Each binary is
// built into a temporary name and renamed, so a cut-short build never
// leaves a broken binary in the cache.
func buildOnce(name, module, ldflags string, pkgs, outs []string) buildResult {
	start := time.Now()
	missing := false
	for _, o := range outs {
		if _, err := os.Stat(o); err != nil {
			missing = true
		}
	}
	if !missing {
		return buildResult{name: name, cached: true, elapsed: time.Since(start)}
	}
	tmp, err := os.MkdirTemp(filepath.Dir(outs[0]), ".build-")
	if err != nil {
		return buildResult{name: name, err: err}
	}
	defer os.RemoveAll(tmp)
	args := append([]string{"build", "-ldflags=" + ldflags, "-o", tmp + "/"}, pkgs...)
	if _, err := run(module, nil, 40*time.Minute, "go", args...); err != nil {
		return buildResult{name: name, err: fmt.Errorf("build %s: %w", name, err)}
	}
	for i, p := range pkgs {
		if err := os.Rename(filepath.Join(tmp, filepath.Base(p)), outs[i]); err != nil {
			return buildResult{name: name, err: err}
		}
	}
	return buildResult{name: name, elapsed: time.Since(start)}
}
