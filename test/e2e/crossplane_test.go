//go:build e2e

package e2e

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// crossplaneEnv is the environment Crossplane's chart gives both its init
// container and its core container, with webhooks off (nothing could reach
// them: no Service routes to a local process).
func (c *controlPlane) crossplaneEnv(kubeconfig string) []string {
	return []string{
		"KUBECONFIG=" + kubeconfig,
		"POD_NAMESPACE=" + crossplaneNamespace,
		"POD_SERVICE_ACCOUNT=" + crossplaneSA,
		"ENABLE_WEBHOOKS=false",
		"LEADER_ELECTION=false",
		"TLS_CA_SECRET_NAME=" + rootCASecret,
		"TLS_SERVER_SECRET_NAME=" + tlsServerSecret,
		"TLS_CLIENT_SECRET_NAME=" + tlsClientSecret,
		"CRDS_PATH=" + filepath.Join(c.bins.crossplaneModule, "cluster", "crds"),
	}
}

// installCrossplane gives Crossplane its namespace, ServiceAccount and RBAC,
// runs `crossplane core init` and returns the kubeconfig Crossplane uses.
func (c *controlPlane) installCrossplane() (string, error) {
	k := c.adminKube
	if _, err := k.run("", "create", "namespace", crossplaneNamespace); err != nil {
		return "", err
	}
	rbac, err := os.ReadFile("testdata/crossplane-rbac.yaml")
	if err != nil {
		return "", err
	}
	if err := k.apply(string(rbac)); err != nil {
		return "", err
	}
	if c.crossplaneAdmin {
		if _, err := k.run("", "create", "clusterrolebinding", "crossplane-e2e-admin", "--clusterrole=cluster-admin",
			"--serviceaccount="+crossplaneNamespace+":"+crossplaneSA); err != nil {
			return "", err
		}
	} else {
		// The function's own RBAC, as the README documents it.
		fnRBAC, err := os.ReadFile(filepath.Join(c.root, "example", "rbac.yaml"))
		if err != nil {
			return "", fmt.Errorf("the function's RBAC: %w (set FPC_E2E_CROSSPLANE_ADMIN=1 to run Crossplane as cluster-admin instead)", err)
		}
		if err := k.apply(string(fnRBAC)); err != nil {
			return "", fmt.Errorf("apply example/rbac.yaml: %w", err)
		}
	}
	// Crossplane runs as its ServiceAccount, with a token the API server
	// issues for it (TokenRequest), as in a Pod.
	token, err := k.run("", "create", "token", crossplaneSA, "-n", crossplaneNamespace, "--duration=6h")
	if err != nil {
		return "", err
	}
	kubeconfig, err := c.writeKubeconfig("crossplane", strings.TrimSpace(token))
	if err != nil {
		return "", err
	}

	// init installs Crossplane's CRDs and makes its CA and client
	// certificate. Its first run can race its own CRDs ("no matches for
	// kind Lock"): run it again, a bounded number of times.
	var last error
	for attempt := 1; attempt <= 6; attempt++ {
		out, err := run(c.dir, c.crossplaneEnv(kubeconfig), 3*time.Minute, c.bins.crossplane, "core", "init")
		os.WriteFile(filepath.Join(c.dir, fmt.Sprintf("crossplane-init-%d.log", attempt)), []byte(out), 0o600)
		if err == nil {
			c.logf("crossplane core init: done on attempt %d", attempt)
			return kubeconfig, nil
		}
		last = err
		c.logf("crossplane core init: attempt %d failed: %s", attempt, lastLine(out))
		time.Sleep(2 * time.Second)
	}
	return "", fmt.Errorf("crossplane core init: %w", last)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// secretData reads a Secret's data, decoded.
func (c *controlPlane) secretData(ns, name string) (map[string][]byte, error) {
	u, found, err := c.adminKube.get("secret", ns, name)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("secret %s/%s not found", ns, name)
	}
	data, _, _ := unstructured.NestedStringMap(u.Object, "data")
	out := make(map[string][]byte, len(data))
	for k, v := range data {
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return nil, err
		}
		out[k] = b
	}
	return out, nil
}

// writeFiles writes each key of data as a file in a new directory.
func writeFiles(dir string, data map[string][]byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for k, v := range data {
		if err := os.WriteFile(filepath.Join(dir, k), v, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// startCrossplane runs `crossplane core start` with the Function package
// runtime External: Crossplane installs the package but runs nothing.
func (c *controlPlane) startCrossplane(kubeconfig string) error {
	client, err := c.secretData(crossplaneNamespace, tlsClientSecret)
	if err != nil {
		return err
	}
	clientDir := filepath.Join(c.dir, "crossplane-tls-client")
	if err := writeFiles(clientDir, client); err != nil {
		return err
	}
	// The chart mounts empty directories for the server certificates and the
	// package cache; without the cache directory every pull fails with
	// "io: read/write on closed pipe".
	serverDir := filepath.Join(c.dir, "crossplane-tls-server")
	cacheDir := filepath.Join(c.dir, "xpkg-cache")
	for _, d := range []string{serverDir, cacheDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	// Crossplane binds these on every interface: free ports, so nothing else
	// on the machine is disturbed.
	var ports [3]int
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			return err
		}
	}
	env := append(c.crossplaneEnv(kubeconfig),
		"TLS_CLIENT_CERTS_DIR="+clientDir,
		"TLS_SERVER_CERTS_DIR="+serverDir,
		"WEBHOOK_PORT="+strconv.Itoa(ports[0]),
		"METRICS_PORT="+strconv.Itoa(ports[1]),
		"HEALTH_PROBE_PORT="+strconv.Itoa(ports[2]),
	)
	p, err := c.start("crossplane", c.bins.crossplane, []string{
		"--debug", "core", "start",
		"--package-runtime=Function=External",
		"--xpkg-cache-dir=" + cacheDir,
		// Reconcile often enough that the bounded waits below see several
		// reconciles; realtime compositions react to composed resources
		// at once anyway.
		"--poll-interval=15s",
	}, env)
	if err != nil {
		return err
	}
	return c.waitHealthy(p, fmt.Sprintf("http://127.0.0.1:%d/readyz", ports[2]), &http.Client{Timeout: 2 * time.Second}, nil, 2*time.Minute)
}

// startFunction builds the function from the repository and serves it with
// mTLS: a server certificate signed by Crossplane's root CA, client
// certificates verified against it.
func (c *controlPlane) startFunction() (endpoint string, tlsDir string, err error) {
	c.functionBin = filepath.Join(c.dir, "function-packet-capture")
	// FPC_E2E_FUNCTION_SRC builds the function from another checkout, e.g.
	// a scratch copy with a deliberately broken Job, to see the e2e fail.
	src := c.root
	if d := os.Getenv("FPC_E2E_FUNCTION_SRC"); d != "" {
		src = d
		c.logf("building the function from %s (FPC_E2E_FUNCTION_SRC)", d)
	}
	if _, err := run(src, nil, 10*time.Minute, "go", "build", "-o", c.functionBin, "."); err != nil {
		return "", "", err
	}
	rootCA, err := c.secretData(crossplaneNamespace, rootCASecret)
	if err != nil {
		return "", "", err
	}
	ca, err := loadCA(rootCA["tls.crt"], rootCA["tls.key"])
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", rootCASecret, err)
	}
	crt, key, err := ca.issue(functionName, []string{"localhost", functionName, functionName + "." + crossplaneNamespace}, []net.IP{net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return "", "", err
	}
	tlsDir = filepath.Join(c.dir, "function-tls")
	if err := writeFiles(tlsDir, map[string][]byte{"tls.crt": crt, "tls.key": key, "ca.crt": rootCA["tls.crt"]}); err != nil {
		return "", "", err
	}
	port, err := freePort()
	if err != nil {
		return "", "", err
	}
	endpoint = fmt.Sprintf("127.0.0.1:%d", port)
	p, err := c.start("function", c.functionBin, []string{"--address=" + endpoint, "--tls-certs-dir=" + tlsDir, "--debug"}, nil)
	if err != nil {
		return "", "", err
	}
	// Serving: the port accepts connections.
	return endpoint, tlsDir, poll(60*time.Second, 250*time.Millisecond, func() (bool, string, error) {
		if done, err := p.exited(); done {
			return false, "", fmt.Errorf("function exited: %v\n%s", err, p.tail(40))
		}
		conn, err := net.DialTimeout("tcp", endpoint, time.Second)
		if err != nil {
			return false, err.Error(), nil
		}
		conn.Close()
		return true, "", nil
	})
}

// installFunction installs the function's package from the local registry
// and plays the package runtime Crossplane's External runtime leaves to
// someone else: it publishes the running function's TLS secret and
// endpoint on the active FunctionRevision.
func (c *controlPlane) installFunction(pkg, endpoint, tlsDir string) error {
	k := c.adminKube
	if err := k.apply(fmt.Sprintf(`apiVersion: pkg.crossplane.io/v1
kind: Function
metadata:
  name: %s
spec:
  package: %s
`, functionName, pkg)); err != nil {
		return err
	}
	var rev *unstructured.Unstructured
	if err := poll(3*time.Minute, time.Second, func() (bool, string, error) {
		revs, err := k.list("functionrevisions.pkg.crossplane.io", "", "pkg.crossplane.io/package="+functionName)
		if err != nil {
			return false, "", err
		}
		for i := range revs {
			if s, _, _ := unstructured.NestedString(revs[i].Object, "spec", "desiredState"); s == "Active" {
				rev = &revs[i]
				return true, "", nil
			}
		}
		fn, _, _ := k.get("functions.pkg.crossplane.io", "", functionName)
		state := "no active FunctionRevision"
		if fn != nil {
			state += "; Function: " + conditionsSummary(fn)
		}
		return false, state, nil
	}); err != nil {
		return err
	}
	secretName, _, _ := unstructured.NestedString(rev.Object, "spec", "tlsServerSecretName")
	if secretName == "" {
		secretName = functionName + "-tls-server"
	}
	files := map[string][]byte{}
	for _, f := range []string{"tls.crt", "tls.key", "ca.crt"} {
		b, err := os.ReadFile(filepath.Join(tlsDir, f))
		if err != nil {
			return err
		}
		files[f] = b
	}
	secret := fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata:
  name: %s
  namespace: %s
type: kubernetes.io/tls
data:
  tls.crt: %s
  tls.key: %s
  ca.crt: %s
`, secretName, crossplaneNamespace, base64.StdEncoding.EncodeToString(files["tls.crt"]),
		base64.StdEncoding.EncodeToString(files["tls.key"]), base64.StdEncoding.EncodeToString(files["ca.crt"]))
	if err := k.apply(secret); err != nil {
		return err
	}
	status := map[string]any{"status": map[string]any{"endpoint": endpoint, "tlsServerSecretName": secretName}}
	// The revision controller writes the status too: publish again until
	// the revision is healthy with our endpoint.
	return poll(3*time.Minute, 2*time.Second, func() (bool, string, error) {
		r, found, err := k.get("functionrevisions.pkg.crossplane.io", "", rev.GetName())
		if err != nil || !found {
			return false, fmt.Sprint("revision not readable: ", err), nil
		}
		ep, _, _ := unstructured.NestedString(r.Object, "status", "endpoint")
		if ep != endpoint {
			if err := k.patchStatus("functionrevisions.pkg.crossplane.io", "", rev.GetName(), status); err != nil {
				return false, err.Error(), nil
			}
		}
		s, _, _ := condition(r, "RevisionHealthy")
		return s == "True" && ep == endpoint, fmt.Sprintf("endpoint %q; %s", ep, conditionsSummary(r)), nil
	})
}
