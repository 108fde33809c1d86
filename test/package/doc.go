// Package xpkg tests the function's Crossplane package as users get it: it
// builds the .xpkg for linux/amd64 and linux/arm64 with hack/xpkg.sh (no
// container engine), opens each with go-containerregistry and checks that it
// holds the package metadata (crossplane.yaml) and the Input CRD in its
// package.yaml layer, and a runtime image that runs the static function
// binary at /function as a non-root user on port 9443.
//
// With FPC_XPKG_DIR set to a directory that `make xpkg` filled
// (OUTPUT=DIR), the tests check those packages instead of building their own.
//
// It is a module of its own so that go-containerregistry stays out of the
// function's go.mod; `make test` runs it:
//
//	cd test/package && go test -v .
package xpkg
