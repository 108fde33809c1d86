package hardening_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// pki is a CA and the certificates it signed, as Crossplane sets them up
// for a function: a server certificate for the function and a client
// certificate for Crossplane.
type pki struct {
	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
	caPEM  []byte
}

func newPKI(t *testing.T, name string) *pki {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &pki{caCert: cert, caKey: key, caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue signs a certificate for a server (with its loopback names) or a
// client, returning its PEM certificate and key.
func (p *pki) issue(t *testing.T, name string, server bool) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = []string{"localhost", name}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

// clientCreds trusts the CA and, when cert is set, presents it.
func clientCreds(t *testing.T, ca *pki, certPEM, keyPEM []byte) grpc.DialOption {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(ca.caCert)
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if certPEM != nil {
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		// Present it whatever CAs the server asks for: a client of
		// another CA must be refused by the server, not spared by Go's
		// client, which would otherwise send nothing.
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil }
	}
	return grpc.WithTransportCredentials(credentials.NewTLS(cfg))
}

// TestMTLS serves the built binary with --tls-certs-dir holding tls.crt,
// tls.key and ca.crt, as function-sdk-go expects them (and as Crossplane
// mounts them), and calls it as Crossplane does, with a client certificate
// the CA signed. Without a client certificate, or with one of another CA,
// or in plaintext, the call is refused.
func TestMTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the function binary")
	}
	ca := newPKI(t, "crossplane-root-ca")
	dir := t.TempDir()
	srvCert, srvKey := ca.issue(t, "function-packet-capture", true)
	for name, b := range map[string][]byte{"tls.crt": srvCert, "tls.key": srvKey, "ca.crt": ca.caPEM} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cliCert, cliKey := ca.issue(t, "crossplane", false)
	other := newPKI(t, "someone-else")
	otherCert, otherKey := other.issue(t, "intruder", false)
	req, c := captureRequest(t, 7, 5, 1)

	srv := startServer(t, nil, "--tls-certs-dir="+dir)
	if strings.Contains(srv.logs.String(), "without mTLS") {
		t.Errorf("served with certificates, yet logs that mTLS is off:\n%s", srv.logs)
	}

	t.Run("client certificate of the CA", func(t *testing.T) {
		rsp, err := call(context.Background(), srv.addr, req, clientCreds(t, ca, cliCert, cliKey))
		if err != nil {
			t.Fatalf("RunFunction over mTLS: %v\nserver log:\n%s", err, srv.logs)
		}
		if f := fatalResults(rsp); len(f) > 0 || targetsOf(rsp) != capturable(c) {
			t.Errorf("fatal results %q, %d Pods captured, want %d", f, targetsOf(rsp), capturable(c))
		}
	})
	refused := map[string]grpc.DialOption{
		"no client certificate":            clientCreds(t, ca, nil, nil),
		"client certificate of another CA": clientCreds(t, ca, otherCert, otherKey),
		"plaintext":                        grpc.WithTransportCredentials(insecure.NewCredentials()),
	}
	for name, creds := range refused {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if rsp, err := call(ctx, srv.addr, req, creds); err == nil {
				t.Fatalf("RunFunction answered (%d results); want the call refused", len(rsp.GetResults()))
			} else {
				t.Logf("refused: %v", err)
			}
		})
	}
	t.Run("certificates from TLS_SERVER_CERTS_DIR", func(t *testing.T) {
		fromEnv := startServer(t, []string{"TLS_SERVER_CERTS_DIR=" + dir})
		if _, err := call(context.Background(), fromEnv.addr, req, clientCreds(t, ca, cliCert, cliKey)); err != nil {
			t.Fatalf("RunFunction over mTLS: %v\nserver log:\n%s", err, fromEnv.logs)
		}
		if _, err := call(context.Background(), fromEnv.addr, req, clientCreds(t, ca, nil, nil)); err == nil {
			t.Error("RunFunction answered a client without a certificate")
		}
	})
}

// TestInsecureWarns: --insecure serves plaintext and says, in the log, that
// it is for local use only.
func TestInsecureWarns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the function binary")
	}
	srv := startServer(t, nil, "--insecure")
	req, _ := captureRequest(t, 8, 3, 0)
	if _, err := call(context.Background(), srv.addr, req, grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
		t.Fatalf("RunFunction in plaintext: %v", err)
	}
	logs := srv.logs.String()
	for _, want := range []string{"--insecure", "for local use", "never in a cluster"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log does not say %q:\n%s", want, logs)
		}
	}
}

// TestNoCredentialsRefused: with neither --insecure nor certificates the
// function does not serve at all, rather than serve without mTLS.
func TestNoCredentialsRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the function binary")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), "--address="+freeAddress(t), "--mode=grpc")
	out, err := cmd.CombinedOutput()
	if err == nil || ctx.Err() != nil {
		t.Fatalf("exit %v (context %v), want a refusal:\n%s", err, ctx.Err(), out)
	}
	if !strings.Contains(string(out), "no credentials provided") {
		t.Errorf("the refusal does not say why:\n%s", out)
	}
}
