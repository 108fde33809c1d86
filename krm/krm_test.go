package krm

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/kustomize/kyaml/fn/framework"
	"sigs.k8s.io/kustomize/kyaml/kio"
)

var update = flag.Bool("update", false, "rewrite the golden files krm/testdata/*/output.yaml")

// TestGolden runs the function on every testdata/<case>/input.yaml (a
// ResourceList, its first comment says what the case is about) and compares
// its whole output with testdata/<case>/output.yaml. Run
// `go test ./krm -run TestGolden -update` to rewrite the golden files, then
// review the diff. Every case is also run a second time on its own output,
// which must come back byte for byte: the function is idempotent.
func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "*", "input.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(inputs) == 0 {
		t.Fatal("no golden cases in testdata/")
	}
	for _, input := range inputs {
		dir := filepath.Dir(input)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			in, err := os.ReadFile(input)
			if err != nil {
				t.Fatal(err)
			}
			got, runErr := runFn(in)
			golden := filepath.Join(dir, "output.yaml")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("output differs from %s (-want +got; -update rewrites it):\n%s", golden, diff)
			}

			// An error result, and only an error result, fails the function.
			if hasError := bytes.Contains(got, []byte("severity: error")); hasError != (runErr != nil) {
				t.Errorf("Run error = %v, but the results hold an error: %t", runErr, hasError)
			}

			again, againErr := runFn(got)
			if (againErr != nil) != (runErr != nil) {
				t.Errorf("second run: error %v, first run: %v", againErr, runErr)
			}
			if diff := cmp.Diff(string(got), string(again)); diff != "" {
				t.Errorf("running on its own output changed it (-first +second):\n%s", diff)
			}
		})
	}
}

func runFn(in []byte) ([]byte, error) {
	var out bytes.Buffer
	err := Run(bytes.NewReader(in), &out)
	return out.Bytes(), err
}

// TestRunIsExecute checks that Run, which writes a ResourceList item by item,
// writes the same bytes as kyaml's framework.Execute with this Processor.
func TestRunIsExecute(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "*", "input.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, input := range inputs {
		in, err := os.ReadFile(input)
		if err != nil {
			t.Fatal(err)
		}
		got, gotErr := runFn(in)
		var want bytes.Buffer
		wantErr := framework.Execute(Processor{}, &kio.ByteReadWriter{Reader: bytes.NewReader(in), Writer: &want, KeepReaderAnnotations: true})
		if diff := cmp.Diff(want.String(), string(got)); diff != "" {
			t.Errorf("%s: Run and framework.Execute differ (-execute +run):\n%s", input, diff)
		}
		if (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
			t.Errorf("%s: Run error %v, framework.Execute error %v", input, gotErr, wantErr)
		}
	}
}

// TestMessagesNameCaptureAndField checks what a user reads first: every
// result about a capture names it as namespace/name, and the field errors of
// an invalid one name their fields.
func TestMessagesNameCaptureAndField(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "invalid", "input.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	got, runErr := runFn(in)
	if runErr == nil {
		t.Fatal("an invalid PacketCapture must fail the function")
	}
	for _, want := range []string{
		`PacketCapture "captures/bad": spec.jobId: Invalid value: "TOO LONG"`,
		`PacketCapture "captures/bad": spec.duration: Invalid value: "forever"`,
		"path: spec.interface",
	} {
		if !strings.Contains(string(got), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(string(got), "packetcapture.fn.crossplane.io/capture: bad") {
		t.Error("an invalid PacketCapture must produce no objects")
	}
	if !strings.Contains(runErr.Error(), "captures/bad") {
		t.Errorf("error %q does not name the PacketCapture", runErr)
	}
}
