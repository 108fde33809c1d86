//go:build tools

// Package tools pins the Kubernetes binaries that the end-to-end test runs
// as plain local processes: the control plane (kube-apiserver,
// kube-controller-manager, kube-scheduler) and the node (kubelet).
// k8s.io/kubernetes is not meant to be imported: its go.mod requires every
// staging module at v0.0.0 and replaces them with ./staging paths, so this
// module replaces each one with its published v0.34.2.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
