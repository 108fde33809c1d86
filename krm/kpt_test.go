package krm

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The example package, committed rendered.
var examplePackage = filepath.Join("..", "example", "kpt")

// kptExec is how the example's Kptfile runs the function: by name, on PATH.
const kptExec = "function-packet-capture --mode=krm"

// TestKpt runs the real kpt on copies of example/kpt with the function
// built from this tree: `kpt fn render --allow-exec` through the Kptfile's
// exec pipeline, and `kpt fn eval --exec` with the Input or with key=value
// arguments. Each runs twice; the second run changes nothing.
func TestKpt(t *testing.T) {
	kpt := kptBinary(t)
	bin := buildFunction(t)
	env := append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	kptRun := func(t *testing.T, dir string, args ...string) (string, error) {
		t.Helper()
		cmd := exec.Command(kpt, args...)
		cmd.Dir, cmd.Env = dir, env
		start := time.Now()
		out, err := cmd.CombinedOutput()
		t.Logf("kpt %v: %s", args, time.Since(start))
		return string(out), err
	}
	want := readTree(t, examplePackage)

	t.Run("render is up to date and stable", func(t *testing.T) {
		pkg := copyPackage(t, false)
		for i := range 2 {
			if out, err := kptRun(t, pkg, "fn", "render", "--allow-exec", "."); err != nil {
				t.Fatalf("kpt fn render: %v\n%s", err, out)
			}
			if diff := cmp.Diff(want, readTree(t, pkg)); diff != "" {
				t.Fatalf("render %d changed example/kpt (-committed +rendered); if the function's output changed on purpose, run `make kpt` and commit:\n%s", i+1, diff)
			}
		}
	})

	t.Run("render from scratch", func(t *testing.T) {
		pkg := copyPackage(t, true)
		for i := range 2 {
			out, err := kptRun(t, pkg, "fn", "render", "--allow-exec", ".")
			if err != nil {
				t.Fatalf("kpt fn render: %v\n%s", err, out)
			}
			if i == 0 && !strings.Contains(out, "capturing 3 Pods on 2 nodes") {
				t.Errorf("kpt does not show the function's results:\n%s", out)
			}
			if diff := cmp.Diff(want, readTree(t, pkg)); diff != "" {
				t.Fatalf("render %d (-committed +rendered):\n%s", i+1, diff)
			}
		}
	})

	t.Run("eval with the Input", func(t *testing.T) {
		pkg := copyPackage(t, true)
		for i := range 2 {
			if out, err := kptRun(t, pkg, "fn", "eval", ".", "--exec", kptExec, "--fn-config", "fn-config.yaml"); err != nil {
				t.Fatalf("kpt fn eval: %v\n%s", err, out)
			}
			if diff := cmp.Diff(want, readTree(t, pkg)); diff != "" {
				t.Fatalf("eval %d (-rendered by kpt fn render +evaluated):\n%s", i+1, diff)
			}
		}
	})

	t.Run("eval with key=value arguments", func(t *testing.T) {
		pkg := copyPackage(t, true)
		var first map[string]string
		for i := range 2 {
			out, err := kptRun(t, pkg, "fn", "eval", ".", "--exec", kptExec, "--",
				"image=registry.example.com/tools/netshoot:v0.13", "output.type=HostPath", "graceSeconds=60")
			if err != nil {
				t.Fatalf("kpt fn eval: %v\n%s", err, out)
			}
			got := readTree(t, pkg)
			if i == 0 {
				first = got
				continue
			}
			if diff := cmp.Diff(first, got); diff != "" {
				t.Fatalf("second eval changed the package:\n%s", diff)
			}
		}
		job := first["packet-capture/packet-capture/packet-capture-openshift-gitops-openshift-gitops-server/job-openshift-gitops-server-6d8f9c7b5d-4xk2p-qwer.yaml"]
		for _, s := range []string{"image: registry.example.com/tools/netshoot:v0.13", "hostPath:", "activeDeadlineSeconds: 90"} {
			if !strings.Contains(job, s) {
				t.Errorf("the Job does not show the argument (%q):\n%s", s, job)
			}
		}
	})

	t.Run("invalid PacketCapture fails and writes nothing", func(t *testing.T) {
		pkg := copyPackage(t, false)
		pc := filepath.Join(pkg, "packetcapture.yaml")
		b, err := os.ReadFile(pc)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(pc, bytes.Replace(b, []byte("jobId: qwer"), []byte("jobId: NOPE!"), 1), 0o644); err != nil {
			t.Fatal(err)
		}
		before := readTree(t, pkg)
		out, err := kptRun(t, pkg, "fn", "render", "--allow-exec", ".")
		if err == nil {
			t.Fatalf("kpt fn render succeeded on an invalid PacketCapture:\n%s", out)
		}
		for _, s := range []string{"packet-capture/packet-capture-openshift-gitops-openshift-gitops-server", "spec.jobId", "NOPE!"} {
			if !strings.Contains(out, s) {
				t.Errorf("kpt's output does not name %q:\n%s", s, out)
			}
		}
		if diff := cmp.Diff(before, readTree(t, pkg)); diff != "" {
			t.Errorf("a failed render changed the package:\n%s", diff)
		}
	})
}

// kptBinary finds kpt. Without it the test is skipped, unless
// FPC_REQUIRE_KPT is set (CI), where it fails.
func kptBinary(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"kpt", "/usr/bin/kpt"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("FPC_REQUIRE_KPT") != "" {
		t.Fatal("kpt is not installed (FPC_REQUIRE_KPT is set): it is at /usr/bin/kpt on every machine of this kind")
	}
	t.Skip("kpt is not installed; set FPC_REQUIRE_KPT=1 to fail instead")
	return ""
}

// buildFunction builds the function binary from this tree into a temporary
// directory and returns the directory.
func buildFunction(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "function-packet-capture"), "..")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return dir
}

// copyPackage copies example/kpt into a temporary directory. fresh leaves
// out what the function wrote: the generated files and the status.
func copyPackage(t *testing.T, fresh bool) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "kpt")
	for rel, content := range readTree(t, examplePackage) {
		if fresh && strings.HasPrefix(rel, PathRoot+"/") {
			continue
		}
		if fresh && rel == "packetcapture.yaml" {
			content, _, _ = strings.Cut(content, "\nstatus:\n")
			content += "\n"
		}
		p := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// readTree reads every file under dir, by slash-separated relative path.
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
