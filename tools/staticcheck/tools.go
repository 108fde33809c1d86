//go:build tools

// Package tools pins staticcheck, which `make lint` runs after go vet (see
// hack/staticcheck.sh). It lives in its own module so that the checker's
// dependencies never reach the function's go.mod.
package tools

import _ "honnef.co/go/tools/cmd/staticcheck"
