package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestFlags: kubectl's connection flags on every command, the commands'
// own flags, and argument checks before any connection is made.
func TestFlags(t *testing.T) {
	cases := map[string]struct {
		args    []string
		wantErr string
	}{
		"FetchNeedsName":    {args: []string{"fetch"}, wantErr: "accepts 1 arg(s), received 0"},
		"CleanOneName":      {args: []string{"clean", "a", "b"}, wantErr: "accepts 1 arg(s), received 2"},
		"ListTakesNoArgs":   {args: []string{"list", "x"}, wantErr: `unknown command "x"`},
		"UnknownFlag":       {args: []string{"fetch", "x", "--nope"}, wantErr: "unknown flag: --nope"},
		"BadHelperTimeout":  {args: []string{"fetch", "x", "--helper-timeout=soon"}, wantErr: `invalid argument "soon"`},
		"UnreachableServer": {args: []string{"list", "--server=https://127.0.0.1:1", "--request-timeout=5s", "-n", "ns"}, wantErr: "127.0.0.1:1"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			root := newRoot(&out, &errOut)
			root.SetArgs(tc.args)
			err := root.Execute()
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%v: error %v, want one saying %q", tc.args, err, tc.wantErr)
			}
		})
	}
	root := newRoot(&bytes.Buffer{}, &bytes.Buffer{})
	for _, cmd := range root.Commands() {
		for _, f := range []string{"kubeconfig", "context", "namespace", "as", "server", "token"} {
			if cmd.Name() != "help" && cmd.Name() != "completion" && cmd.Flag(f) == nil {
				t.Errorf("%s has no --%s", cmd.Name(), f)
			}
		}
	}
	fetch, _, _ := root.Find([]string{"fetch"})
	for _, f := range []string{"output-dir", "merge", "helper-timeout"} {
		if fetch.Flag(f) == nil {
			t.Errorf("fetch has no --%s", f)
		}
	}
	if fetch.Flag("output-dir").Shorthand != "o" || fetch.Flag("namespace").Shorthand != "n" {
		t.Errorf("fetch: -o and -n are not --output-dir and --namespace")
	}
}
