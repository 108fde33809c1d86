// Package netns holds the real-packet tests of the capture payload.
//
// The tests build a node in miniature, as root: a "pod" network namespace and
// a "peer" namespace joined by a veth pair (test addresses inside those
// namespaces only), processes living in the pod namespace and placed in a
// cgroup named the way the kubelet names a Pod's, and prepared proc trees for
// the other cgroup spellings. They render a PacketCapture through the planner
// (package capture), take the script and settings out of the rendered
// ConfigMap and the command, env, volume mounts and security context out of
// the rendered Job, run that in a private mount namespace where the volumes
// sit at their real mount paths, send known packet streams from the peer and
// check the PCAP files with tcpdump -r.
//
// Without root, ip, tcpdump, nsenter, unshare, setpriv or a cgroup v1
// hierarchy the tests skip; with FPC_REQUIRE_NETNS=1 they fail instead.
//
//	sudo FPC_REQUIRE_NETNS=1 go test ./test/netns/ -v
package netns
