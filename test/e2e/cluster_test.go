//go:build e2e

package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Names the harness and Crossplane agree on.
const (
	crossplaneNamespace = "crossplane-system"
	crossplaneSA        = "crossplane"
	rootCASecret        = "crossplane-root-ca"
	tlsClientSecret     = "crossplane-tls-client"
	tlsServerSecret     = "crossplane-tls-server"
	functionName        = "function-packet-capture"
)

// controlPlane is a Kubernetes control plane and Crossplane, run as local
// processes on 127.0.0.1 by this test binary.
type controlPlane struct {
	dir   string
	root  string
	bins  *binaries
	procs []*process
	logf  func(string, ...any)

	ca        *certAuthority
	saKey     string
	saPub     string
	apiURL    string
	adminKube *kube
	caPath    string
	// nodeTokens are the bearer tokens of the nodes' kubelets (user
	// system:node:<name>, group system:nodes: the Node authorizer) and of
	// the kube-scheduler.
	nodeTokens     map[string]string
	schedulerToken string

	registry    *httptest.Server
	functionBin string
	// crossplaneAdmin runs Crossplane as cluster-admin instead of with the
	// RBAC the README documents.
	crossplaneAdmin bool
}

// start records a started process so stop can end it.
func (c *controlPlane) start(name, bin string, args, env []string) (*process, error) {
	p, err := startProcess(c.dir, name, bin, args, env)
	if err != nil {
		return nil, err
	}
	c.procs = append(c.procs, p)
	return p, nil
}

// stop ends every process the harness started, newest first, each by its
// own PID, and the in-process registry.
func (c *controlPlane) stop() {
	for i := len(c.procs) - 1; i >= 0; i-- {
		p := c.procs[i]
		took := p.stop(15 * time.Second)
		c.logf("stop: %-26s pid %-7d %5.1fs", p.name, p.cmd.Process.Pid, took.Seconds())
	}
	c.procs = nil
	if c.registry != nil {
		c.registry.Close()
		c.registry = nil
	}
}

// logs returns the tail of every process's log, for a failure message.
func (c *controlPlane) logs(n int) string {
	var b strings.Builder
	for _, p := range c.procs {
		fmt.Fprintf(&b, "\n----- %s (%s), last %d lines -----\n%s\n", p.name, p.log, n, p.tail(n))
	}
	return b.String()
}

// waitHealthy polls url until it answers 200 or the process exits.
func (c *controlPlane) waitHealthy(p *process, url string, client *http.Client, header http.Header, timeout time.Duration) error {
	return poll(timeout, 250*time.Millisecond, func() (bool, string, error) {
		if done, err := p.exited(); done {
			return false, "", fmt.Errorf("%s exited: %v\n%s", p.name, err, p.tail(40))
		}
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		for k, v := range header {
			req.Header[k] = v
		}
		rsp, err := client.Do(req)
		if err != nil {
			return false, err.Error(), nil
		}
		body, _ := io.ReadAll(io.LimitReader(rsp.Body, 4096))
		rsp.Body.Close()
		return rsp.StatusCode == http.StatusOK, fmt.Sprintf("%d %s", rsp.StatusCode, body), nil
	})
}

func randomToken() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// writeKubeconfig writes a kubeconfig that reaches the API server with a
// bearer token.
func (c *controlPlane) writeKubeconfig(name, token string) (string, error) {
	path := filepath.Join(c.dir, name+".kubeconfig")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: %s
  user:
    token: %s
contexts:
- name: e2e
  context: {cluster: e2e, user: %s}
current-context: e2e
`, c.apiURL, base64.StdEncoding.EncodeToString(c.ca.certPEM), name, token, name)
	return path, os.WriteFile(path, []byte(cfg), 0o600)
}

// startKubernetes starts etcd, kube-apiserver and kube-controller-manager.
func (c *controlPlane) startKubernetes() error {
	var err error
	if c.ca, err = newCA("e2e-kubernetes-ca"); err != nil {
		return err
	}
	caPath := filepath.Join(c.dir, "ca.crt")
	if err := os.WriteFile(caPath, c.ca.certPEM, 0o600); err != nil {
		return err
	}
	if c.saKey, c.saPub, err = writeServiceAccountKeys(c.dir); err != nil {
		return err
	}

	// etcd.
	clientPort, err := freePort()
	if err != nil {
		return err
	}
	peerPort, err := freePort()
	if err != nil {
		return err
	}
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", clientPort)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	etcd, err := c.start("etcd", c.bins.etcd, []string{
		"--name=e2e", "--data-dir=" + filepath.Join(c.dir, "etcd"),
		"--listen-client-urls=" + etcdURL, "--advertise-client-urls=" + etcdURL,
		"--listen-peer-urls=" + peerURL, "--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=e2e=" + peerURL, "--log-level=warn",
	}, nil)
	if err != nil {
		return err
	}
	if err := c.waitHealthy(etcd, etcdURL+"/health", http.DefaultClient, nil, 60*time.Second); err != nil {
		return fmt.Errorf("etcd: %w", err)
	}

	// kube-apiserver, with a serving certificate from our CA and static
	// bearer tokens.
	apiPort, err := freePort()
	if err != nil {
		return err
	}
	c.apiURL = fmt.Sprintf("https://127.0.0.1:%d", apiPort)
	crt, key, err := c.ca.issue("kube-apiserver",
		[]string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		[]net.IP{net.IPv4(127, 0, 0, 1), net.ParseIP("10.96.0.1")})
	if err != nil {
		return err
	}
	crtPath, keyPath := filepath.Join(c.dir, "apiserver.crt"), filepath.Join(c.dir, "apiserver.key")
	if err := os.WriteFile(crtPath, crt, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(keyPath, key, 0o600); err != nil {
		return err
	}
	c.caPath = caPath
	adminToken, kcmToken := randomToken(), randomToken()
	tokens := fmt.Sprintf("%s,e2e-admin,e2e-admin,\"system:masters\"\n%s,system:kube-controller-manager,kcm,\"system:masters\"\n", adminToken, kcmToken)
	c.schedulerToken = randomToken()
	tokens += fmt.Sprintf("%s,system:kube-scheduler,kube-scheduler\n", c.schedulerToken)
	c.nodeTokens = map[string]string{}
	for _, n := range nodeNames {
		c.nodeTokens[n] = randomToken()
		tokens += fmt.Sprintf("%s,system:node:%s,%s,\"system:nodes\"\n", c.nodeTokens[n], n, n)
	}
	// The API server's client certificate for the kubelets (exec, logs,
	// kubectl cp), trusted by them through the same CA.
	kcCrt, kcKey, err := c.ca.issue("kube-apiserver-kubelet-client", nil, nil)
	if err != nil {
		return err
	}
	kcCrtPath, kcKeyPath := filepath.Join(c.dir, "apiserver-kubelet-client.crt"), filepath.Join(c.dir, "apiserver-kubelet-client.key")
	if err := os.WriteFile(kcCrtPath, kcCrt, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(kcKeyPath, kcKey, 0o600); err != nil {
		return err
	}
	tokensPath := filepath.Join(c.dir, "tokens.csv")
	if err := os.WriteFile(tokensPath, []byte(tokens), 0o600); err != nil {
		return err
	}
	apiserver, err := c.start("kube-apiserver", c.bins.kubeAPIServer, []string{
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--secure-port=" + strconv.Itoa(apiPort),
		"--etcd-servers=" + etcdURL,
		"--tls-cert-file=" + crtPath, "--tls-private-key-file=" + keyPath,
		"--client-ca-file=" + caPath,
		"--token-auth-file=" + tokensPath,
		"--authorization-mode=Node,RBAC",
		"--kubelet-client-certificate=" + kcCrtPath, "--kubelet-client-key=" + kcKeyPath,
		// The nodes' names resolve nowhere: reach a kubelet at its node IP.
		"--kubelet-preferred-address-types=InternalIP",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + c.saPub, "--service-account-signing-key-file=" + c.saKey,
		"--service-cluster-ip-range=10.96.0.0/16",
		// The kubernetes Service's endpoint would be 127.0.0.1, which
		// Endpoints may not hold; nothing in this cluster needs it.
		"--endpoint-reconciler-type=none",
		"--allow-privileged=true",
		"--cert-dir=" + filepath.Join(c.dir, "apiserver-certs"),
		"--profiling=false",
	}, nil)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c.ca.certPEM)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if err := c.waitHealthy(apiserver, c.apiURL+"/readyz", client, http.Header{"Authorization": {"Bearer " + adminToken}}, 120*time.Second); err != nil {
		return fmt.Errorf("kube-apiserver: %w", err)
	}
	adminCfg, err := c.writeKubeconfig("admin", adminToken)
	if err != nil {
		return err
	}
	c.adminKube = &kube{kubectl: c.bins.kubectl, kubeconfig: adminCfg}

	// kube-controller-manager: every controller but podgc, which would
	// force-delete the played Pods, which name nodes that do not exist.
	kcmCfg, err := c.writeKubeconfig("kube-controller-manager", kcmToken)
	if err != nil {
		return err
	}
	kcm, err := c.start("kube-controller-manager", c.bins.kubeControllerManager, []string{
		"--kubeconfig=" + kcmCfg,
		"--controllers=*,-podgc",
		"--leader-elect=false",
		"--use-service-account-credentials=false",
		"--service-account-private-key-file=" + c.saKey,
		"--root-ca-file=" + caPath,
		"--secure-port=0",
		"--concurrent-gc-syncs=5",
	}, nil)
	if err != nil {
		return err
	}
	// The service account controller runs once the informers sync.
	return poll(90*time.Second, 500*time.Millisecond, func() (bool, string, error) {
		if done, err := kcm.exited(); done {
			return false, "", fmt.Errorf("kube-controller-manager exited: %v\n%s", err, kcm.tail(40))
		}
		_, found, err := c.adminKube.get("serviceaccount", "default", "default")
		return found && err == nil, fmt.Sprint("default ServiceAccount not created yet ", err), nil
	})
}

// startRegistry starts an OCI registry in this process on 127.0.0.1 and
// pushes the function's package to it. It returns the package reference.
func (c *controlPlane) startRegistry(xpkg string) (string, error) {
	img, err := loadImage(xpkg)
	if err != nil {
		return "", fmt.Errorf("load %s: %w", xpkg, err)
	}
	c.registry = httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	host := strings.TrimPrefix(c.registry.URL, "http://")
	ref := host + "/function-packet-capture/function-packet-capture:v0.0.0-e2e"
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		return "", err
	}
	if err := remote.Write(r, img); err != nil {
		return "", fmt.Errorf("push %s: %w", ref, err)
	}
	return ref, nil
}

// loadImage reads an xpkg: a tarball as `crossplane xpkg build` writes it,
// or an OCI image layout (a directory, or a tar of one).
func loadImage(path string) (v1.Image, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return imageFromLayout(path)
	}
	img, err := tarball.ImageFromPath(path, nil)
	if err == nil {
		if _, err = img.Manifest(); err == nil {
			return img, nil
		}
	}
	dir, terr := os.MkdirTemp("", "fpc-e2e-layout-")
	if terr != nil {
		return nil, terr
	}
	defer os.RemoveAll(dir)
	if _, xerr := run(dir, nil, time.Minute, "tar", "-xf", path); xerr != nil {
		return nil, fmt.Errorf("neither an image tarball (%v) nor a tar of an OCI layout (%v)", err, xerr)
	}
	img, lerr := imageFromLayout(dir)
	if lerr != nil {
		return nil, fmt.Errorf("neither an image tarball (%v) nor an OCI layout (%v)", err, lerr)
	}
	// Read everything now: the layout's files go with dir.
	return copyImage(img)
}

func imageFromLayout(dir string) (v1.Image, error) {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	if len(m.Manifests) != 1 {
		return nil, fmt.Errorf("OCI layout %s holds %d manifests, want 1", dir, len(m.Manifests))
	}
	return idx.Image(m.Manifests[0].Digest)
}

// copyImage writes an image to a temporary tarball and reads it back, so it
// no longer depends on files about to be removed.
func copyImage(img v1.Image) (v1.Image, error) {
	f, err := os.CreateTemp("", "fpc-e2e-xpkg-*.tar")
	if err != nil {
		return nil, err
	}
	f.Close()
	if err := tarball.WriteToFile(f.Name(), name.MustParseReference("e2e.local/xpkg:e2e"), img); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(f.Name())
	os.Remove(f.Name())
	if err != nil {
		return nil, err
	}
	return tarball.Image(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }, nil)
}
