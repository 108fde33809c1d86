//go:build tools

// Package tools pins Crossplane core (the controller manager, cmd/crossplane)
// that the end-to-end test runs as a plain local process. It lives in its own
// module so that Crossplane's dependency graph never reaches the function's
// go.mod.
package tools

import _ "github.com/crossplane/crossplane/v2/cmd/crossplane"
