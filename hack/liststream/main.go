// Command liststream expands the v1 List that `kubectl get -o yaml` prints
// into the YAML stream `crossplane render --required-resources` reads:
//
//	kubectl get deploy,rs,pod -n NS -o yaml | go run ./hack/liststream > required.yaml
package main

import (
	"fmt"
	"os"

	"github.com/function-packet-capture/function-packet-capture/internal/liststream"
)

func main() {
	if err := liststream.Expand(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "liststream:", err)
		os.Exit(1)
	}
}
