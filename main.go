// Command function-packet-capture serves the PacketCapture composition
// function to Crossplane over gRPC, or runs once as a KRM function.
package main

import (
	"os"

	"github.com/alecthomas/kong"

	"github.com/crossplane/function-sdk-go"

	"github.com/function-packet-capture/function-packet-capture/fn"
	"github.com/function-packet-capture/function-packet-capture/krm"
)

// DefaultMaxRecvMessageSize accepts the request Crossplane sends for a
// Deployment of 10,000 Pods (about 2.8 KiB per Pod); gRPC's own default of
// 4 MiB fails at about 1,500.
const DefaultMaxRecvMessageSize = 64 << 20

// CLI of this function.
type CLI struct {
	Debug bool `help:"Emit debug logs in addition to info logs." short:"d"`

	Network            string `default:"tcp"    help:"Network on which to listen for gRPC connections."`
	Address            string `default:":9443"  help:"Address at which to listen for gRPC connections."`
	TLSCertsDir        string `env:"TLS_SERVER_CERTS_DIR" help:"Directory containing server certs (tls.key, tls.crt) and the CA used to verify client certificates (ca.crt)."`
	Insecure           bool   `help:"Run without mTLS credentials. For local development only (crossplane render)."`
	MaxRecvMessageSize int    `default:"67108864" help:"Largest request, in bytes, the function accepts."`
	MetricsAddress     string `default:":8080" help:"Address of the Prometheus metrics endpoint; empty turns it off."`

	Mode string `default:"auto" enum:"auto,grpc,krm" env:"FUNCTION_MODE" help:"grpc serves Crossplane; krm reads one ResourceList on stdin and writes the result on stdout (kpt, kustomize); auto picks krm when stdin is a pipe or a file and no gRPC flag (--insecure, --tls-certs-dir) is set."`
}

// Run this function.
func (c *CLI) Run() error {
	if c.Mode == "krm" || c.Mode == "auto" && !c.Insecure && c.TLSCertsDir == "" && stdinIsInput() {
		return krm.Run(os.Stdin, os.Stdout)
	}
	log, err := function.NewLogger(c.Debug)
	if err != nil {
		return err
	}
	if c.Insecure {
		log.Info("Serving without mTLS (--insecure): for local use such as crossplane render only, never in a cluster")
	}
	return function.Serve(fn.NewFunction(log),
		function.Listen(c.Network, c.Address),
		function.MTLSCertificates(c.TLSCertsDir),
		function.Insecure(c.Insecure),
		function.MaxRecvMessageSize(c.MaxRecvMessageSize),
		function.WithMetricsServer(c.MetricsAddress))
}

// stdinIsInput tells whether stdin carries data, as when kpt pipes a
// ResourceList in. Crossplane, a container runtime and a backgrounded shell
// job give a function /dev/null or a terminal instead.
func stdinIsInput() bool {
	fi, err := os.Stdin.Stat()
	return err == nil && (fi.Mode()&os.ModeNamedPipe != 0 || fi.Mode().IsRegular())
}

func main() {
	ctx := kong.Parse(&CLI{}, kong.Description("A Crossplane composition function that captures the packets of a Deployment's Pods."))
	ctx.FatalIfErrorf(ctx.Run())
}
