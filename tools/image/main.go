// Command image writes OCI images without a container engine, as image
// tarballs (`docker save` format) that `ctr images import`, `docker load`,
// `crane push` and `skopeo copy docker-archive:` all read.
//
//	image capture -o capture.tar [-tag REF]
//	    the capture image: busybox (sh, tar and the other applets), tcpdump
//	    and util-linux nsenter taken from this machine (Debian), with the
//	    shared libraries they link, /etc/passwd, /etc/group and /tmp.
//	image static -binary FILE -entrypoint NAME -o out.tar [-tag REF]
//	    one static binary at /NAME as the entrypoint (the e2e's pause and
//	    traffic images).
//	image function -binary FILE -platform OS/ARCH -o out.tar [-tag REF] [-version V]
//	    the function's runtime image, which hack/xpkg.sh embeds in the
//	    Crossplane package: the static binary at /function, run as the
//	    non-root user 65532, port 9443, as the Dockerfile's image.
//
// Every timestamp is SOURCE_DATE_EPOCH (0 when unset) and every entry is
// written in name order with root ownership, so the same files always give
// the same image digest. It prints "<file> <digest>".
//
// It lives in its own module so go-containerregistry stays out of the
// function's go.mod.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

const usage = `usage:
  image capture -o FILE.tar [-tag REF] [-busybox PATH] [-tcpdump PATH] [-nsenter PATH]
  image static -binary FILE -entrypoint NAME -o FILE.tar [-tag REF]
  image function -binary FILE -platform OS/ARCH -o FILE.tar [-tag REF] [-version V] [-source URL]`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "capture":
		err = captureCmd(os.Args[2:])
	case "static":
		err = staticCmd(os.Args[2:])
	case "function":
		err = functionCmd(os.Args[2:])
	default:
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func captureCmd(args []string) error {
	fs := flag.NewFlagSet("capture", flag.ExitOnError)
	out := fs.String("o", "", "The image tarball to write.")
	tag := fs.String("tag", "function-packet-capture/capture:dev", "The tag recorded in the tarball.")
	busybox := fs.String("busybox", "/usr/bin/busybox", "busybox (Debian's busybox package): /bin/sh, tar and the other applets.")
	tcpdump := fs.String("tcpdump", "/usr/bin/tcpdump", "tcpdump.")
	nsenter := fs.String("nsenter", "/usr/bin/nsenter", "util-linux nsenter.")
	fs.Parse(args)
	if *out == "" || fs.NArg() != 0 {
		return fmt.Errorf("capture: -o is required\n%s", usage)
	}
	created, err := sourceDateEpoch()
	if err != nil {
		return err
	}
	img, err := CaptureImage(CaptureSources{Busybox: *busybox, Tcpdump: *tcpdump, Nsenter: *nsenter}, runtime.GOARCH, created)
	if err != nil {
		return err
	}
	return write(img, *tag, *out)
}

func staticCmd(args []string) error {
	fs := flag.NewFlagSet("static", flag.ExitOnError)
	out := fs.String("o", "", "The image tarball to write.")
	tag := fs.String("tag", "", "The tag recorded in the tarball.")
	binary := fs.String("binary", "", "A static binary (CGO_ENABLED=0) for this machine's architecture.")
	entrypoint := fs.String("entrypoint", "", "Its name in the image: /NAME, the entrypoint.")
	fs.Parse(args)
	if *out == "" || *tag == "" || *binary == "" || *entrypoint == "" || strings.Contains(*entrypoint, "/") || fs.NArg() != 0 {
		return fmt.Errorf("static: -binary, -entrypoint (a plain name), -tag and -o are required\n%s", usage)
	}
	created, err := sourceDateEpoch()
	if err != nil {
		return err
	}
	bin, err := os.ReadFile(*binary)
	if err != nil {
		return err
	}
	img, err := StaticImage(bin, *entrypoint, runtime.GOARCH, created)
	if err != nil {
		return err
	}
	return write(img, *tag, *out)
}

func functionCmd(args []string) error {
	fs := flag.NewFlagSet("function", flag.ExitOnError)
	out := fs.String("o", "", "The image tarball to write.")
	binary := fs.String("binary", "", "The static function binary (CGO_ENABLED=0) for -platform.")
	platform := fs.String("platform", "linux/amd64", "The image's OS/architecture[/variant].")
	tag := fs.String("tag", "function-packet-capture:dev", "The tag recorded in the tarball (what `docker load` names the image).")
	version := fs.String("version", "dev", "The org.opencontainers.image.version label.")
	source := fs.String("source", "https://github.com/function-packet-capture/function-packet-capture", "The org.opencontainers.image.source label.")
	fs.Parse(args)
	if *binary == "" || *out == "" || fs.NArg() != 0 {
		return fmt.Errorf("function: -binary and -o are required\n%s", usage)
	}
	created, err := sourceDateEpoch()
	if err != nil {
		return err
	}
	p, err := v1.ParsePlatform(*platform)
	if err != nil {
		return fmt.Errorf("cannot parse -platform %q: %w", *platform, err)
	}
	bin, err := os.ReadFile(*binary)
	if err != nil {
		return err
	}
	img, err := FunctionImage(bin, *p, created, map[string]string{
		"org.opencontainers.image.title":       "function-packet-capture",
		"org.opencontainers.image.description": "Crossplane composition function: one tcpdump Job next to every Pod of a Deployment",
		"org.opencontainers.image.source":      *source,
		"org.opencontainers.image.version":     *version,
	})
	if err != nil {
		return err
	}
	return write(img, *tag, *out)
}

// write writes img as an image tarball under a temporary name, then renames
// it, so a cut-short run never leaves a broken tarball.
func write(img v1.Image, tag, out string) error {
	ref, err := name.NewTag(tag)
	if err != nil {
		return fmt.Errorf("cannot parse -tag %q: %w", tag, err)
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
	fmt.Printf("%s %s\n", out, d)
	return nil
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
