package main

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// entry is one file of a layer: a regular file (body), a directory (dir) or
// a symbolic link (link).
type entry struct {
	mode int64
	body []byte
	dir  bool
	link string
}

// tree is a root file system by path (no leading slash).
type tree map[string]entry

// addFile adds a regular file and its parent directories.
func (t tree) addFile(p string, mode int64, body []byte) {
	t.addDirs(path.Dir(p))
	t[p] = entry{mode: mode, body: body}
}

// addLink adds a symbolic link and its parent directories.
func (t tree) addLink(p, target string) {
	t.addDirs(path.Dir(p))
	t[p] = entry{mode: 0o777, link: target}
}

// addDirs adds a directory and its parents, 0755 unless already there.
func (t tree) addDirs(p string) {
	for ; p != "." && p != "/" && p != ""; p = path.Dir(p) {
		if _, ok := t[p]; !ok {
			t[p] = entry{mode: 0o755, dir: true}
		}
	}
}

// layer writes the tree as one layer: entries in name order, owned by root,
// every time set to created.
func (t tree) layer(created time.Time) (v1.Layer, error) {
	names := make([]string, 0, len(t))
	for n := range t {
		names = append(names, n)
	}
	slices.Sort(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		e := t[n]
		h := &tar.Header{Name: n, Mode: e.mode, ModTime: created, Format: tar.FormatPAX}
		switch {
		case e.dir:
			h.Typeflag, h.Name = tar.TypeDir, n+"/"
		case e.link != "":
			h.Typeflag, h.Linkname = tar.TypeSymlink, e.link
		default:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.body))
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
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
}

// image makes a one-layer image of t for linux/arch.
func image(t tree, arch string, created time.Time, cfg v1.Config, createdBy string) (v1.Image, error) {
	l, err := t.layer(created)
	if err != nil {
		return nil, err
	}
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		Architecture: arch,
		OS:           "linux",
		Created:      v1.Time{Time: created},
		Config:       cfg,
		RootFS:       v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return nil, err
	}
	return mutate.Append(img, mutate.Addendum{Layer: l, History: v1.History{Created: v1.Time{Time: created}, CreatedBy: createdBy}})
}

// etc adds the files every image here carries: root, tcpdump (the user
// Debian's tcpdump drops to without -Z) and nobody in /etc/passwd and
// /etc/group (capture.sh's tcpdump -Z root looks root up), an
// nsswitch.conf that names the files glibc reads, and /tmp.
func (t tree) etc() {
	t.addFile("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\ntcpdump:x:101:101:tcpdump:/nonexistent:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"))
	t.addFile("etc/group", 0o644, []byte("root:x:0:\ntcpdump:x:101:\nnogroup:x:65534:\n"))
	t.addFile("etc/nsswitch.conf", 0o644, []byte("passwd: files\ngroup: files\nhosts: files\n"))
	t["tmp"] = entry{mode: 0o1777, dir: true}
	t.addDirs("root")
}

// StaticImage is one static binary at /name, its entrypoint, run as root.
func StaticImage(bin []byte, name, arch string, created time.Time) (v1.Image, error) {
	t := tree{}
	t.etc()
	t.addFile(name, 0o755, bin)
	return image(t, arch, created, v1.Config{Entrypoint: []string{"/" + name}, WorkingDir: "/"}, "tools/image static: COPY "+name+" /"+name)
}

// CaptureSources are the programs the capture image carries.
type CaptureSources struct {
	Busybox, Tcpdump, Nsenter string
}

// CaptureImage is what capture.sh needs and nothing else: /bin/sh and the
// other busybox applets (tar for kubectl cp among them), tcpdump and util-linux
// nsenter, the shared libraries they load, /etc/passwd and /etc/group.
func CaptureImage(src CaptureSources, arch string, created time.Time) (v1.Image, error) {
	t := tree{}
	t.etc()
	libs := newLibResolver(arch)
	files := map[string]string{ // path in the image -> path on this machine
		"bin/busybox":     src.Busybox,
		"usr/bin/tcpdump": src.Tcpdump,
		"usr/bin/nsenter": src.Nsenter,
	}
	for dst, from := range files {
		b, err := os.ReadFile(from)
		if err != nil {
			return nil, err
		}
		t.addFile(dst, 0o755, b)
		if err := libs.add(from); err != nil {
			return nil, fmt.Errorf("%s: %w", from, err)
		}
	}
	for dst, from := range libs.found {
		b, err := os.ReadFile(from)
		if err != nil {
			return nil, err
		}
		t.addFile(dst, 0o755, b)
	}
	// The applets busybox has, each a link in /bin, except those a real
	// program provides.
	out, err := exec.Command(src.Busybox, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list: %w", src.Busybox, err)
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet == "busybox" || applet == "nsenter" || applet == "tcpdump" || strings.Contains(applet, "/") {
			continue
		}
		t.addLink("bin/"+applet, "busybox")
	}
	labels := map[string]string{
		"org.opencontainers.image.title":       "function-packet-capture capture image",
		"org.opencontainers.image.description": "sh, tar and the busybox applets, tcpdump, nsenter: what capture.sh needs",
		"org.opencontainers.image.source":      "https://github.com/function-packet-capture/function-packet-capture",
	}
	var sources []string
	for _, from := range files {
		sources = append(sources, from)
	}
	for _, from := range libs.found {
		sources = append(sources, from)
	}
	if pkgs := debianPackages(sources); pkgs != "" {
		labels["io.github.function-packet-capture.debian-packages"] = pkgs
	}
	return image(t, arch, created, v1.Config{
		Env:        []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"},
		Cmd:        []string{"/bin/sh"},
		WorkingDir: "/",
		Labels:     labels,
	}, "tools/image capture: busybox, tcpdump, nsenter and their libraries")
}

// libResolver finds the shared libraries an ELF program loads, as the
// dynamic loader would from its default directories (no ld.so.cache is
// needed in the image: the libraries keep the paths found here).
type libResolver struct {
	dirs []string
	// found maps a path in the image (no leading slash) to the file on
	// this machine (symbolic links resolved).
	found map[string]string
}

func newLibResolver(arch string) *libResolver {
	triplet := map[string]string{"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}[arch]
	dirs := []string{"/lib/" + triplet, "/usr/lib/" + triplet, "/lib64", "/lib", "/usr/lib"}
	return &libResolver{dirs: dirs, found: map[string]string{}}
}

// add adds the interpreter and, recursively, every DT_NEEDED library of the
// program at p.
func (r *libResolver) add(p string) error {
	f, err := elf.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type != elf.PT_INTERP {
			continue
		}
		b, err := io.ReadAll(prog.Open())
		if err != nil {
			return err
		}
		interp := strings.TrimRight(string(b), "\x00")
		if err := r.keep(interp); err != nil {
			return err
		}
	}
	needed, err := f.ImportedLibraries()
	if err != nil {
		return err
	}
	for _, lib := range needed {
		var at string
		for _, d := range r.dirs {
			if _, err := os.Stat(filepath.Join(d, lib)); err == nil {
				at = filepath.Join(d, lib)
				break
			}
		}
		if at == "" {
			return fmt.Errorf("library %s not found in %v", lib, r.dirs)
		}
		if _, done := r.found[strings.TrimPrefix(at, "/")]; done {
			continue
		}
		if err := r.keep(at); err != nil {
			return err
		}
		if err := r.add(at); err != nil {
			return fmt.Errorf("%s: %w", at, err)
		}
	}
	return nil
}

// keep records the file at p (a link is followed) under the path p.
func (r *libResolver) keep(p string) error {
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return err
	}
	r.found[strings.TrimPrefix(p, "/")] = real
	return nil
}

// debianPackages names the Debian packages (and versions) that own the
// files, for the image's label; "" when dpkg is not there to ask.
func debianPackages(files []string) string {
	if _, err := exec.LookPath("dpkg-query"); err != nil {
		return ""
	}
	pkgs := map[string]bool{}
	for _, f := range files {
		// dpkg knows a file by the path its package installs, /lib or
		// /usr/lib on a merged-/usr system.
		for _, p := range []string{f, "/usr" + f, strings.TrimPrefix(f, "/usr")} {
			out, err := exec.Command("dpkg-query", "-S", p).Output()
			if err != nil {
				continue
			}
			pkg, _, _ := strings.Cut(strings.TrimSpace(string(out)), ": ")
			pkgs[pkg] = true
			break
		}
	}
	var list []string
	for p := range pkgs {
		out, err := exec.Command("dpkg-query", "-W", "-f", "${Package}:${Architecture}=${Version}", p).Output()
		if err != nil {
			continue
		}
		list = append(list, string(out))
	}
	slices.Sort(list)
	return strings.Join(list, " ")
}
