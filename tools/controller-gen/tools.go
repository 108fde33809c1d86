//go:build tools

// Package tools pins controller-gen, which writes the Input's deepcopy
// functions and CRD (see input/generate.go).
package tools

import _ "sigs.k8s.io/controller-tools/cmd/controller-gen"
