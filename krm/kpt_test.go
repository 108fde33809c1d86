package krm

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
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

// buildFunction builds the function binary from this tree, once per test
// run, and returns the directory it is in.
func buildFunction(t *testing.T) string {
	t.Helper()
	build.once.Do(func() {
		build.dir, build.err = os.MkdirTemp("", "fpc-krm-test-")
		if build.err != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", filepath.Join(build.dir, "function-packet-capture"), "..")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.dir
}

var build struct {
	once sync.Once
	dir  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

// TestModes runs the built binary as kpt and Crossplane would, to check
// which mode it picks: KRM for a piped or redirected ResourceList, gRPC with
// a serving flag or FUNCTION_MODE=grpc, whatever stdin is.
func TestModes(t *testing.T) {
	bin := filepath.Join(buildFunction(t), "function-packet-capture")
	input := filepath.Join("testdata", "example", "input.yaml")
	want, err := os.ReadFile(filepath.Join("testdata", "example", "output.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	in, err := os.ReadFile(input)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("auto: a pipe is KRM", func(t *testing.T) {
		cmd := exec.Command(bin)
		cmd.Stdin = bytes.NewReader(in) // a pipe
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(want), string(out)); diff != "" {
			t.Errorf("-golden +binary:\n%s", diff)
		}
	})
	t.Run("auto: a redirected file is KRM", func(t *testing.T) {
		f, err := os.Open(input)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cmd := exec.Command(bin)
		cmd.Stdin = f
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, want) {
			t.Error("the output differs from testdata/example/output.yaml")
		}
	})
	t.Run("FUNCTION_MODE=grpc is gRPC", func(t *testing.T) {
		cmd := exec.Command(bin, "--address", "127.0.0.1:0")
		cmd.Stdin = bytes.NewReader(in)
		cmd.Env = append(os.Environ(), "FUNCTION_MODE=grpc")
		out, err := cmd.CombinedOutput()
		// Without --insecure or certificates the gRPC server refuses to start.
		if err == nil || !strings.Contains(string(out), "no credentials") {
			t.Errorf("want the gRPC server's refusal, got %v:\n%s", err, out)
		}
	})
	t.Run("auto: --insecure serves gRPC even with a pipe", func(t *testing.T) {
		cmd := exec.Command(bin, "--insecure", "--address", "127.0.0.1:0")
		cmd.Stdin = bytes.NewReader(in)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			t.Fatalf("exited (%v) instead of serving:\n%s", err, out.String())
		case <-time.After(time.Second):
		}
		_ = cmd.Process.Kill()
		<-done
		if strings.Contains(out.String(), "ResourceList") {
			t.Errorf("wrote a ResourceList:\n%s", out.String())
		}
	})
	t.Run("empty stdin is an error", func(t *testing.T) {
		cmd := exec.Command(bin, "--mode=krm")
		cmd.Stdin = strings.NewReader("")
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "no input") {
			t.Errorf("want an error saying there is no input, got %v:\n%s", err, out)
		}
	})
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
