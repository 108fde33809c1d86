//go:build tools

// Package tools pins the crossplane CLI (crank) that the render and
// validate tests build. It lives in its own module so that the CLI's large
// dependency graph never reaches the function's go.mod.
package tools

import _ "github.com/crossplane/crossplane/v2/cmd/crank"
