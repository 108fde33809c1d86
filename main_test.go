package main

import (
	"testing"

	"github.com/alecthomas/kong"
)

func parse(t *testing.T, args ...string) *CLI {
	t.Helper()
	c := &CLI{}
	p, err := kong.New(c, kong.Exit(func(int) { t.Fatal("kong exited") }))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Parse(args); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestMaxRecvMessageSizeDefault: the flag's default is the constant, and the
// constant takes the ~14 MB request of a 5,000-Pod Deployment with room to
// spare. test/hardening (TestScale5000Pods, TestLoad) serves with 64 MiB and
// relies on this.
func TestMaxRecvMessageSizeDefault(t *testing.T) {
	c := parse(t, "--insecure")
	if c.MaxRecvMessageSize != DefaultMaxRecvMessageSize {
		t.Errorf("--max-recv-message-size defaults to %d, DefaultMaxRecvMessageSize is %d", c.MaxRecvMessageSize, DefaultMaxRecvMessageSize)
	}
	if DefaultMaxRecvMessageSize != 64<<20 {
		t.Errorf("DefaultMaxRecvMessageSize = %d; test/hardening serves with 64 MiB, update it too", DefaultMaxRecvMessageSize)
	}
	if c.MaxRecvMessageSize < 2*14<<20 {
		t.Errorf("--max-recv-message-size defaults to %d bytes, too little for 5,000 Pods (~14 MB)", c.MaxRecvMessageSize)
	}
}

// TestTLSCertsDirFromEnv: Crossplane's package runtime passes the certificate
// directory as TLS_SERVER_CERTS_DIR.
func TestTLSCertsDirFromEnv(t *testing.T) {
	t.Setenv("TLS_SERVER_CERTS_DIR", "/tls/server")
	if c := parse(t); c.TLSCertsDir != "/tls/server" || c.Insecure {
		t.Errorf("TLSCertsDir = %q, Insecure = %t; want /tls/server, false", c.TLSCertsDir, c.Insecure)
	}
	if c := parse(t, "--tls-certs-dir=/elsewhere"); c.TLSCertsDir != "/elsewhere" {
		t.Errorf("the flag does not override the environment: %q", c.TLSCertsDir)
	}
}
