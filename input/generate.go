//go:build generate

// Generate the Input's deepcopy functions and its CRD with controller-gen,
// pinned in tools/controller-gen. Run `make generate` (or `go generate
// -tags generate ./input/...`).
package input

//go:generate ../hack/controller-gen.sh object:headerFile=../hack/boilerplate.go.txt paths=./... crd:crdVersions=v1 output:artifacts:config=../package/input
