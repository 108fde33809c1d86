package main

import (
	"archive/tar"
	"io"
	"os"
	"runtime"
	"slices"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// captureSources are this machine's programs; the test skips where they are
// missing (CI installs them: .ci/run).
func captureSources(t *testing.T) CaptureSources {
	src := CaptureSources{Busybox: "/usr/bin/busybox", Tcpdump: "/usr/bin/tcpdump", Nsenter: "/usr/bin/nsenter"}
	for _, p := range []string{src.Busybox, src.Tcpdump, src.Nsenter} {
		if _, err := os.Stat(p); err != nil {
			if os.Getenv("FPC_REQUIRE_NETNS") == "1" {
				t.Fatalf("%s is missing: apt-get install busybox tcpdump util-linux", p)
			}
			t.Skipf("%s is missing", p)
		}
	}
	return src
}

func files(t *testing.T, img v1.Image) map[string]*tar.Header {
	t.Helper()
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %v, %d, want one", err, len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := map[string]*tar.Header{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = h
	}
}

func TestCaptureImageIsReproducible(t *testing.T) {
	src := captureSources(t)
	created := time.Unix(1700000000, 0).UTC()
	var digests []v1.Hash
	for range 2 {
		img, err := CaptureImage(src, runtime.GOARCH, created)
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, d)
	}
	if digests[0] != digests[1] {
		t.Fatalf("two builds from the same files: %s and %s", digests[0], digests[1])
	}
	other, err := CaptureImage(src, runtime.GOARCH, created.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := other.Digest(); d == digests[0] {
		t.Fatalf("SOURCE_DATE_EPOCH does not reach the image: %s either way", d)
	}
}

func TestCaptureImageHoldsWhatCaptureShNeeds(t *testing.T) {
	img, err := CaptureImage(captureSources(t), runtime.GOARCH, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	fs := files(t, img)
	for _, want := range []string{"bin/sh", "bin/tar", "bin/busybox", "usr/bin/tcpdump", "usr/bin/nsenter", "etc/passwd", "etc/group", "tmp/"} {
		if fs[want] == nil {
			t.Errorf("%s is missing", want)
		}
	}
	if h := fs["bin/nsenter"]; h != nil {
		t.Errorf("bin/nsenter is %s -> %s: util-linux nsenter must be the only one", h.Name, h.Linkname)
	}
	if h := fs["tmp/"]; h != nil && h.Mode != 0o1777 {
		t.Errorf("tmp/ mode %o, want 1777", h.Mode)
	}
	var libc bool
	for name, h := range fs {
		if h.Uid != 0 || h.Gid != 0 || !h.ModTime.Equal(time.Unix(0, 0)) {
			t.Errorf("%s: owner %d:%d, time %s; want root and SOURCE_DATE_EPOCH", name, h.Uid, h.Gid, h.ModTime)
		}
		libc = libc || slices.Contains([]string{"lib/x86_64-linux-gnu/libc.so.6", "lib/aarch64-linux-gnu/libc.so.6"}, name)
	}
	if !libc {
		t.Error("no libc in the image: the dynamic programs cannot run")
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.OS != "linux" || cfg.Architecture != runtime.GOARCH {
		t.Errorf("platform %s/%s", cfg.OS, cfg.Architecture)
	}
}

func TestStaticImage(t *testing.T) {
	img, err := StaticImage([]byte("\x7fELF not really"), "pause", "amd64", time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	fs := files(t, img)
	if h := fs["pause"]; h == nil || h.Mode != 0o755 || h.Size != 15 {
		t.Fatalf("/pause: %+v", h)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Config.Entrypoint, []string{"/pause"}) {
		t.Errorf("entrypoint %v", cfg.Config.Entrypoint)
	}
}

// TestFunctionImage checks the runtime image hack/xpkg.sh embeds: the binary
// at /function as the entrypoint, run as the non-root user, port 9443, the
// platform asked for, and the same digest from the same binary and time.
func TestFunctionImage(t *testing.T) {
	bin := []byte("\x7fELF not really")
	created := time.Unix(1700000000, 0).UTC()
	build := func(p v1.Platform, created time.Time) v1.Image {
		t.Helper()
		img, err := FunctionImage(bin, p, created, map[string]string{"org.opencontainers.image.version": "v1"})
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	arm := v1.Platform{OS: "linux", Architecture: "arm64"}
	img := build(arm, created)
	fs := files(t, img)
	if h := fs["function"]; h == nil || h.Mode != 0o755 || h.Size != int64(len(bin)) || !h.ModTime.Equal(created) {
		t.Fatalf("/function: %+v", h)
	}
	if h := fs["home/nonroot/"]; h == nil || h.Uid != functionUID {
		t.Errorf("home/nonroot/: %+v, want owned by %d", h, functionUID)
	}
	for _, want := range []string{"etc/passwd", "etc/group", "tmp/"} {
		if fs[want] == nil {
			t.Errorf("%s is missing", want)
		}
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.OS != "linux" || cfg.Architecture != "arm64" || !slices.Equal(cfg.Config.Entrypoint, []string{"/function"}) ||
		cfg.Config.User != "65532:65532" || len(cfg.Config.ExposedPorts) != 1 || cfg.Config.Labels["org.opencontainers.image.version"] != "v1" {
		t.Errorf("config %+v", cfg)
	}
	if _, ok := cfg.Config.ExposedPorts["9443/tcp"]; !ok {
		t.Errorf("exposed ports %v, want 9443/tcp", cfg.Config.ExposedPorts)
	}
	d1, _ := img.Digest()
	d2, _ := build(arm, created).Digest()
	d3, _ := build(arm, created.Add(time.Second)).Digest()
	if d1 != d2 || d1 == d3 {
		t.Errorf("digests %s, %s (same inputs), %s (a second later): want the first two equal, the third different", d1, d2, d3)
	}
}
