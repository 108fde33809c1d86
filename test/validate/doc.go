// Package validate tests the examples and the schemas users install: it runs
// hack/validate.sh (crossplane beta validate, offline) on every example and
// checks that every resource passed; it proves validate rejects bad
// resources (testdata/reject: a jobId off its pattern, a missing field, a
// misspelt field, a bad function Input, ...) and accepts every field a user
// may set (testdata/accept); that the planner agrees with the schema on those
// files; that the status the function writes fits the XRD's schema (the
// rendered example XR, validated); that the v2 and legacy XRDs share one
// schema; and that example/rbac.yaml grants what the function composes and
// reads.
//
// The crossplane CLI is built once into ~/.cache/fpc-tools (hack/crossplane.sh).
//
//	go test ./test/validate/ -v
package validate
