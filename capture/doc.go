// Package capture plans a packet capture: from a PacketCapture's spec, the
// platform's settings, the target Deployment, its ReplicaSets and Pods, the
// capture Jobs that already exist and what the previous reconcile recorded,
// it computes the ConfigMap, the Jobs and the status that should exist now.
//
// It is pure: it reads no clock, environment, file or network, and it knows
// nothing of Crossplane's protobuf or kyaml. Identical arguments give
// byte-identical output, which matters because a Job's pod template is
// immutable: a second reconcile must not change a Job it already created.
// The Crossplane adapter (package fn) and the KRM adapter (package krm) turn
// their wire formats into these values and back.
package capture
