// Package fuzzseed writes the seed corpora of the fuzz targets, so the
// committed testdata/fuzz files are made by code rather than by hand.
package fuzzseed

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Write writes the seeds of a fuzz target to testdata/fuzz/<target>/seed-<name>
// when FPC_WRITE_FUZZ_SEEDS=1, in the format `go test` reads.
func Write(f *testing.F, target string, seeds func(yield func(string, []any))) {
	f.Helper()
	if os.Getenv("FPC_WRITE_FUZZ_SEEDS") != "1" {
		return
	}
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		f.Fatal(err)
	}
	seeds(func(name string, values []any) {
		var b strings.Builder
		b.WriteString("go test fuzz v1\n")
		for _, v := range values {
			switch v := v.(type) {
			case []byte:
				fmt.Fprintf(&b, "[]byte(%q)\n", v)
			case string:
				fmt.Fprintf(&b, "string(%q)\n", v)
			case bool:
				fmt.Fprintf(&b, "bool(%t)\n", v)
			default:
				f.Fatalf("seed value of type %T", v)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, "seed-"+name), []byte(b.String()), 0o644); err != nil {
			f.Fatal(err)
		}
	})
}
