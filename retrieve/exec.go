package retrieve

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
)

// Execer runs a command in a container and streams its stdout to stdout:
// the pods/exec subresource in a cluster, an in-memory stream in tests.
type Execer interface {
	Exec(ctx context.Context, namespace, pod, container string, command []string, stdout io.Writer) error
}

// RemoteExecer runs commands through pods/exec, over WebSocket, or SPDY
// where the API server does not offer it (as kubectl exec does).
type RemoteExecer struct {
	Config *rest.Config
	Client kubernetes.Interface
}

// Exec runs command in namespace/pod's container; a failure carries the
// command's stderr.
func (e RemoteExecer) Exec(ctx context.Context, namespace, pod, container string, command []string, stdout io.Writer) error {
	req := e.Client.CoreV1().RESTClient().Post().Resource("pods").Namespace(namespace).Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: container, Command: command, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	ws, err := remotecommand.NewWebSocketExecutor(e.Config, "GET", req.URL().String())
	if err != nil {
		return err
	}
	spdy, err := remotecommand.NewSPDYExecutor(e.Config, "POST", req.URL())
	if err != nil {
		return err
	}
	exec, err := remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	if err != nil {
		return err
	}
	var stderr bytes.Buffer
	err = exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: stdout, Stderr: &stderr})
	if err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return fmt.Errorf("%w: %s", err, msg)
		}
		return forbidden(err, "create", "pods/exec", namespace)
	}
	return nil
}
