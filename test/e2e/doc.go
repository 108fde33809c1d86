// Package e2e runs function-packet-capture in a real control plane built from
// Go modules and run as local processes (etcd, kube-apiserver,
// kube-controller-manager, Crossplane core, a local OCI registry and the
// function itself), with no container engine. The tests carry the e2e build
// tag: run them with `make e2e` (see docs/e2e.md).
package e2e
