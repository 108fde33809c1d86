// Command image assembles the function's OCI runtime image without a
// container engine, and writes it as an image tarball (`docker save` format)
// that `crossplane xpkg build --embed-runtime-image-tarball` embeds.
//
// The image is built from scratch with one layer: the static function binary
// at /function, /etc/passwd and /etc/group naming the non-root user 65532,
// and /tmp. It runs as 65532:65532, its entrypoint is /function and it
// exposes the gRPC port 9443, as the Dockerfile's image does.
//
// Every timestamp is SOURCE_DATE_EPOCH (0 when unset), so the same binary
// always gives the same image digest.
//
//	go run ./hack/image -binary _output/bin/linux_amd64/function -platform linux/amd64 -o _output/image-amd64.tar
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// The image's user, entrypoint and port.
const (
	UID        = 65532
	Entrypoint = "/function"
	Port       = "9443/tcp"
)

func main() {
	var (
		binary   = flag.String("binary", "", "The static function binary (CGO_ENABLED=0) for -platform.")
		platform = flag.String("platform", "linux/amd64", "The image's OS/architecture[/variant].")
		tag      = flag.String("tag", "function-packet-capture:dev", "The tag recorded in the tarball (what `docker load` names the image).")
		version  = flag.String("version", "dev", "The org.opencontainers.image.version label.")
		source   = flag.String("source", "https://github.com/function-packet-capture/function-packet-capture", "The org.opencontainers.image.source label.")
		out      = flag.String("o", "", "The image tarball to write.")
	)
	flag.Parse()
	if *binary == "" || *out == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: image -binary FILE -platform OS/ARCH -o FILE.tar [-tag NAME:TAG] [-version V]")
		os.Exit(2)
	}
	if err := run(*binary, *platform, *tag, *version, *source, *out); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(binary, platform, tag, version, source, out string) error {
	created, err := sourceDateEpoch()
	if err != nil {
		return err
	}
	p, err := v1.ParsePlatform(platform)
	if err != nil {
		return fmt.Errorf("cannot parse -platform %q: %w", platform, err)
	}
	ref, err := name.NewTag(tag)
	if err != nil {
		return fmt.Errorf("cannot parse -tag %q: %w", tag, err)
	}
	bin, err := os.ReadFile(binary)
	if err != nil {
		return err
	}

	img, err := Image(bin, *p, created, map[string]string{
		"org.opencontainers.image.title":       "function-packet-capture",
		"org.opencontainers.image.description": "Crossplane composition function: one tcpdump Job next to every Pod of a Deployment",
		"org.opencontainers.image.source":      source,
		"org.opencontainers.image.version":     version,
	})
	if err != nil {
		return err
	}

	tmp := out + ".tmp"
	if err := tarball.WriteToFile(tmp, ref, img); err != nil {
		return fmt.Errorf("cannot write %s: %w", out, err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return err
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("%s %s %s\n", out, p, d)
	return nil
}

// Image returns the runtime image of the static binary bin for platform p,
// with every timestamp set to created.
func Image(bin []byte, p v1.Platform, created time.Time, labels map[string]string) (v1.Image, error) {
	layer, err := Layer(bin, created)
	if err != nil {
		return nil, err
	}
	cfg := &v1.ConfigFile{
		Architecture: p.Architecture,
		OS:           p.OS,
		OSVersion:    p.OSVersion,
		Variant:      p.Variant,
		Created:      v1.Time{Time: created},
		Config: v1.Config{
			Entrypoint:   []string{Entrypoint},
			User:         fmt.Sprintf("%d:%d", UID, UID),
			WorkingDir:   "/",
			ExposedPorts: map[string]struct{}{Port: {}},
			Labels:       labels,
		},
		RootFS: v1.RootFS{Type: "layers"},
	}
	img, err := mutate.ConfigFile(empty.Image, cfg)
	if err != nil {
		return nil, err
	}
	return mutate.Append(img, mutate.Addendum{
		Layer: layer,
		History: v1.History{
			Created:   v1.Time{Time: created},
			CreatedBy: "hack/image: COPY function /function",
			Comment:   "static function binary, /etc/passwd, /etc/group, /tmp",
		},
	})
}

// Layer returns the image's only layer: the root file system a static Go
// binary needs.
func Layer(bin []byte, created time.Time) (v1.Layer, error) {
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", UID, UID)
	group := fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", UID)
	entries := []struct {
		name string
		mode int64
		uid  int
		typ  byte
		body []byte
	}{
		{name: "etc/", mode: 0o755, typ: tar.TypeDir},
		{name: "etc/group", mode: 0o644, typ: tar.TypeReg, body: []byte(group)},
		{name: "etc/passwd", mode: 0o644, typ: tar.TypeReg, body: []byte(passwd)},
		{name: "function", mode: 0o755, typ: tar.TypeReg, body: bin},
		{name: "home/", mode: 0o755, typ: tar.TypeDir},
		{name: "home/nonroot/", mode: 0o700, uid: UID, typ: tar.TypeDir},
		{name: "tmp/", mode: 0o1777, typ: tar.TypeDir},
	}

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{
			Typeflag: e.typ,
			Name:     e.name,
			Mode:     e.mode,
			Uid:      e.uid,
			Gid:      e.uid,
			Size:     int64(len(e.body)),
			ModTime:  created,
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	})
}

// sourceDateEpoch is SOURCE_DATE_EPOCH (https://reproducible-builds.org), or
// the Unix epoch when it is unset.
func sourceDateEpoch() (time.Time, error) {
	s := strings.TrimSpace(os.Getenv("SOURCE_DATE_EPOCH"))
	if s == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q is not a number of seconds: %w", s, err)
	}
	return time.Unix(n, 0).UTC(), nil
}
