package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// The function image's user, entrypoint and port: those of the Dockerfile's
// image.
const (
	functionUID        = 65532
	functionEntrypoint = "/function"
	functionPort       = "9443/tcp"
)

// FunctionImage is the function's runtime image for platform p: one layer
// with the static binary bin at /function, /etc/passwd and /etc/group naming
// the non-root user 65532, and /tmp; every timestamp is created.
func FunctionImage(bin []byte, p v1.Platform, created time.Time, labels map[string]string) (v1.Image, error) {
	layer, err := functionLayer(bin, created)
	if err != nil {
		return nil, err
	}
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		Architecture: p.Architecture,
		OS:           p.OS,
		OSVersion:    p.OSVersion,
		Variant:      p.Variant,
		Created:      v1.Time{Time: created},
		Config: v1.Config{
			Entrypoint:   []string{functionEntrypoint},
			User:         fmt.Sprintf("%d:%d", functionUID, functionUID),
			WorkingDir:   "/",
			ExposedPorts: map[string]struct{}{functionPort: {}},
			Labels:       labels,
		},
		RootFS: v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return nil, err
	}
	return mutate.Append(img, mutate.Addendum{
		Layer: layer,
		History: v1.History{
			Created:   v1.Time{Time: created},
			CreatedBy: "tools/image function: COPY function /function",
			Comment:   "static function binary, /etc/passwd, /etc/group, /tmp",
		},
	})
}

// functionLayer is the root file system a static Go binary needs, run as
// the non-root user.
func functionLayer(bin []byte, created time.Time) (v1.Layer, error) {
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", functionUID, functionUID)
	group := fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", functionUID)
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
		{name: "home/nonroot/", mode: 0o700, uid: functionUID, typ: tar.TypeDir},
		{name: "tmp/", mode: 0o1777, typ: tar.TypeDir},
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Typeflag: e.typ, Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.uid, Size: int64(len(e.body)), ModTime: created}
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
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
}
