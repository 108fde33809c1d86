package xpkg

import (
	"archive/tar"
	"bufio"
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

const (
	module = "github.com/function-packet-capture/function-packet-capture"
	// xpkgLabel prefixes the image config labels with which crossplane xpkg
	// build marks its layers; the package.yaml layer's value is "base".
	xpkgLabel = "io.crossplane.xpkg:"
)

var arches = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// packages returns the directory that holds function-packet-capture-<arch>.xpkg
// for every arch: FPC_XPKG_DIR, or a fresh build by hack/xpkg.sh.
func packages(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("FPC_XPKG_DIR"); dir != "" {
		return dir
	}
	if testing.Short() {
		t.Skip("builds the package (about 10 s warm, minutes cold); skipped with -short")
	}
	return build(t, t.TempDir(), "linux/amd64 linux/arm64")
}

func build(t *testing.T, dir, platforms string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(repoRoot(t), "hack", "xpkg.sh"), dir)
	cmd.Env = append(os.Environ(), "XPKG_PLATFORMS="+platforms, "VERSION=v0.0.0-test")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("hack/xpkg.sh %s: %v\n%s", dir, err, out.String())
	}
	return dir
}

func open(t *testing.T, path string) v1.Image {
	t.Helper()
	img, err := tarball.ImageFromPath(path, nil)
	if err != nil {
		t.Fatalf("cannot open %s as an image tarball: %v", path, err)
	}
	return img
}

func TestPackage(t *testing.T) {
	dir := packages(t)
	root := repoRoot(t)
	wantMeta := readYAML(t, filepath.Join(root, "package", "crossplane.yaml"))
	wantCRD := readYAML(t, filepath.Join(root, "package", "input", "packetcapture.fn.crossplane.io_inputs.yaml"))

	for arch, machine := range arches {
		t.Run(arch, func(t *testing.T) {
			img := open(t, filepath.Join(dir, "function-packet-capture-"+arch+".xpkg"))
			cfg, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}

			t.Run("RuntimeConfig", func(t *testing.T) {
				if cfg.OS != "linux" || cfg.Architecture != arch {
					t.Errorf("platform: got %s/%s, want linux/%s", cfg.OS, cfg.Architecture, arch)
				}
				if diff := cmp.Diff([]string{"/function"}, cfg.Config.Entrypoint); diff != "" {
					t.Errorf("Entrypoint: -want +got:\n%s", diff)
				}
				if cfg.Config.User != "65532:65532" {
					t.Errorf("User: got %q, want 65532:65532 (non-root)", cfg.Config.User)
				}
				if _, ok := cfg.Config.ExposedPorts["9443/tcp"]; !ok {
					t.Errorf("ExposedPorts: got %v, want 9443/tcp", cfg.Config.ExposedPorts)
				}
			})

			t.Run("PackageLayer", func(t *testing.T) {
				stream := packageStream(t, img, cfg)
				docs := splitYAML(t, stream)
				if len(docs) != 2 {
					t.Fatalf("package.yaml: got %d objects, want the Function metadata and the Input CRD:\n%s", len(docs), stream)
				}
				meta, crd := docs[0], docs[1]
				for _, f := range []string{"apiVersion", "kind", "spec"} {
					if diff := cmp.Diff(wantMeta[f], meta[f]); diff != "" {
						t.Errorf("package metadata %s: -crossplane.yaml +package:\n%s", f, diff)
					}
				}
				for _, f := range []string{"name", "annotations"} {
					if diff := cmp.Diff(field(wantMeta, "metadata", f), field(meta, "metadata", f)); diff != "" {
						t.Errorf("package metadata metadata.%s: -crossplane.yaml +package:\n%s", f, diff)
					}
				}
				if got := field(meta, "spec", "crossplane", "version"); got == nil {
					t.Errorf("package metadata: no spec.crossplane.version constraint")
				}
				if meta["kind"] != "Function" || meta["apiVersion"] != "meta.pkg.crossplane.io/v1" {
					t.Errorf("package metadata: got %v %v, want meta.pkg.crossplane.io/v1 Function", meta["apiVersion"], meta["kind"])
				}
				if diff := cmp.Diff(wantCRD["spec"], crd["spec"]); diff != "" {
					t.Errorf("Input CRD spec: -package/input +package:\n%s", diff)
				}
				if got := field(crd, "metadata", "name"); got != "inputs.packetcapture.fn.crossplane.io" {
					t.Errorf("Input CRD name: got %v", got)
				}
			})

			t.Run("RuntimeFilesystem", func(t *testing.T) {
				files := filesystem(t, img)
				fn, ok := files["function"]
				if !ok {
					t.Fatalf("no /function in the image; files: %v", slices.Sorted(maps.Keys(files)))
				}
				if fn.hdr.Typeflag != tar.TypeReg || fn.hdr.Mode&0o111 == 0 {
					t.Errorf("/function: type %c mode %o, want an executable regular file", fn.hdr.Typeflag, fn.hdr.Mode)
				}
				if p := files["etc/passwd"]; p == nil || !strings.Contains(string(p.body), ":65532:65532:") {
					t.Errorf("/etc/passwd does not name the image's user 65532")
				}
				checkBinary(t, fn.body, arch, machine)
			})
		})
	}
}

// checkBinary checks that bin is this module's function built static
// (CGO_ENABLED=0) for arch, and on a matching host that it runs.
func checkBinary(t *testing.T, bin []byte, arch string, machine elf.Machine) {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		t.Fatalf("/function is not an ELF binary: %v", err)
	}
	if f.Machine != machine {
		t.Errorf("/function: machine %v, want %v", f.Machine, machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("/function is dynamically linked (%v): want a static binary", p.Type)
		}
	}
	info, err := buildinfo.Read(bytes.NewReader(bin))
	if err != nil {
		t.Fatalf("/function has no Go build info: %v", err)
	}
	if info.Main.Path != module || info.Path != module {
		t.Errorf("/function builds %s (%s), want %s", info.Path, info.Main.Path, module)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	for k, want := range map[string]string{"CGO_ENABLED": "0", "GOOS": "linux", "GOARCH": arch, "-trimpath": "true"} {
		if settings[k] != want {
			t.Errorf("/function build setting %s: got %q, want %q", k, settings[k], want)
		}
	}

	if runtime.GOOS != "linux" || runtime.GOARCH != arch {
		return
	}
	exe := filepath.Join(t.TempDir(), "function")
	if err := os.WriteFile(exe, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(exe, "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--address") {
		t.Errorf("/function --help: %v\n%s", err, out)
	}
}

// packageStream returns the package.yaml of the layer that crossplane xpkg
// build labelled "base".
func packageStream(t *testing.T, img v1.Image, cfg *v1.ConfigFile) []byte {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var found []v1.Layer
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Config.Labels[xpkgLabel+d.String()] == "base" {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		t.Fatalf("got %d layers labelled %s<digest>=base, want 1 (labels %v)", len(found), xpkgLabel, cfg.Config.Labels)
	}
	rc, err := found[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rc.Close() }()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			t.Fatal("the package layer has no package.yaml")
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == "package.yaml" {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
}

type file struct {
	hdr  *tar.Header
	body []byte
}

// filesystem returns the image's flattened file system.
func filesystem(t *testing.T, img v1.Image) map[string]*file {
	t.Helper()
	rc := mutate.Extract(img)
	defer func() { _ = rc.Close() }()
	files := map[string]*file{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[strings.TrimPrefix(h.Name, "/")] = &file{hdr: h, body: b}
	}
}

func splitYAML(t *testing.T, stream []byte) []map[string]any {
	t.Helper()
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(stream)))
	var docs []map[string]any
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(doc, &m); err != nil {
			t.Fatal(err)
		}
		if m != nil {
			docs = append(docs, m)
		}
	}
}

func readYAML(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	docs := splitYAML(t, b)
	if len(docs) != 1 {
		t.Fatalf("%s: got %d objects, want 1", path, len(docs))
	}
	return docs[0]
}

func field(m map[string]any, path ...string) any {
	var v any = m
	for _, p := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[p]
	}
	return v
}

// TestReproducible builds the amd64 package twice: the same sources give the
// same digest, so a package can be rebuilt and checked against a pushed one.
func TestReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the package twice; skipped with -short")
	}
	var digests []v1.Hash
	for range 2 {
		dir := build(t, t.TempDir(), "linux/amd64")
		d, err := open(t, filepath.Join(dir, "function-packet-capture-amd64.xpkg")).Digest()
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, d)
	}
	if digests[0] != digests[1] {
		t.Errorf("two builds of the same sources: %s and %s", digests[0], digests[1])
	}
}

// TestLayout checks the package root: package/ holds crossplane.yaml and the
// generated Input CRD and nothing else that crossplane xpkg build would
// pick up, and the top-level crossplane.yaml is a link to package/'s.
func TestLayout(t *testing.T) {
	root := repoRoot(t)
	target, err := os.Readlink(filepath.Join(root, "crossplane.yaml"))
	if err != nil || target != filepath.Join("package", "crossplane.yaml") {
		t.Errorf("crossplane.yaml: want a symlink to package/crossplane.yaml, got %q (%v)", target, err)
	}
	var yamls []string
	err = filepath.WalkDir(filepath.Join(root, "package"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if ext := filepath.Ext(path); ext == ".yaml" || ext == ".yml" || ext == ".json" {
			rel, _ := filepath.Rel(root, path)
			yamls = append(yamls, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"package/crossplane.yaml", "package/input/packetcapture.fn.crossplane.io_inputs.yaml"}
	if diff := cmp.Diff(want, yamls); diff != "" {
		t.Errorf("files crossplane xpkg build reads from package/: -want +got:\n%s", diff)
	}
}

// TestDockerfileMatchesOfflineBuild keeps the Dockerfile building the binary
// hack/xpkg.sh builds: the same go build flags, and the Go of go.mod.
func TestDockerfileMatchesOfflineBuild(t *testing.T) {
	root := repoRoot(t)
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	dockerfile, script, gomod := read("Dockerfile"), read("hack/xpkg.sh"), read("go.mod")

	// The build of the root package: `go build FLAGS -o OUT .`, on one line.
	flags := regexp.MustCompile(`(?m)\bbuild (-.*?) -o \S+ \.\)?$`)
	df, sf := flags.FindStringSubmatch(dockerfile), flags.FindStringSubmatch(script)
	if df == nil || sf == nil {
		t.Fatalf("no go build of the function found in the Dockerfile (%v) or hack/xpkg.sh (%v)", df, sf)
	}
	if df[1] != sf[1] {
		t.Errorf("go build flags: Dockerfile %q, hack/xpkg.sh %q", df[1], sf[1])
	}
	if !strings.Contains(dockerfile, "ENV CGO_ENABLED=0") || !strings.Contains(script, "CGO_ENABLED=0") {
		t.Error("both builds must set CGO_ENABLED=0")
	}

	goLine := regexp.MustCompile(`(?m)^go (\S+)$`).FindStringSubmatch(gomod)
	argLine := regexp.MustCompile(`(?m)^ARG GO_VERSION=(\S+)$`).FindStringSubmatch(dockerfile)
	if goLine == nil || argLine == nil || goLine[1] != argLine[1] {
		t.Errorf("the Dockerfile's GO_VERSION (%v) must be go.mod's go version (%v)", argLine, goLine)
	}
}
