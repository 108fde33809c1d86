// Package hardening tests the function the way production treats it: bad
// input in both modes (Crossplane's RunFunction and the KRM function), a
// long randomized reconcile loop with Pod churn, concurrent load over real
// loopback gRPC, a 5,000-Pod request through the server's default receive
// limit, and mTLS with generated certificates. docs/hardening.md records
// what the tests and the long fuzz runs measured.
//
//	go test ./test/hardening/ -v
//
// FPC_HARDENING_LONG=1 runs the churn simulation and the load rounds at ten
// times their usual length.
package hardening
