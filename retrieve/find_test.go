package retrieve

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"

	"github.com/function-packet-capture/function-packet-capture/capture"
	"github.com/function-packet-capture/function-packet-capture/input/v1beta1"
)

func TestFind(t *testing.T) {
	forbid := func(verb, resource string) func(c *cluster) {
		return func(c *cluster) {
			react := func(k8stesting.Action) (bool, runtime.Object, error) {
				return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: resource}, "", errors.New(`User "alice" cannot `+verb+` resource "`+resource+`"`))
			}
			if resource == "packetcaptures" {
				c.dyn.PrependReactor(verb, resource, react)
			} else {
				c.kube.PrependReactor(verb, resource, react)
			}
		}
	}
	cases := map[string]struct {
		reason  string
		name    string
		xr      string // the PacketCapture is a claim of this XR
		setup   func(c *cluster)
		want    []string // sources found
		wantErr string
	}{
		"XR": {
			reason: "A v2 XR's capture Pods carry its own name.",
			name:   testPC, want: []string{"web-1-qwer-a"},
		},
		"Claim": {
			reason: "A claim's capture Pods carry the name of its XR, found in spec.resourceRef.",
			name:   "capture-web-claim", xr: testPC, want: []string{"web-1-qwer-a"},
		},
		"Unknown": {
			reason: "An unknown capture says where it looked and how to list.",
			name:   "nope", wantErr: `no PacketCapture "nope" in namespace "packet-capture" (kubectl packetcapture list -n packet-capture`,
		},
		"APINotServed": {
			reason: "A cluster without the XRD says so, not that the capture is missing.",
			name:   testPC,
			setup: func(c *cluster) {
				c.dyn.PrependReactor("*", "packetcaptures", func(k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, apierrors.NewNotFound(PacketCaptures.GroupResource(), "")
				})
			},
			wantErr: "the PacketCapture API (packetcaptures.monitoring.openshift.tpg/v1alpha1) is not served by this cluster",
		},
		"ForbiddenCapture": {
			reason: "Missing RBAC names the verb and the resource.",
			name:   testPC, setup: forbid("get", "packetcaptures"),
			wantErr: `not allowed to get packetcaptures.monitoring.openshift.tpg in namespace packet-capture: your RBAC needs verb "get" on resource "packetcaptures.monitoring.openshift.tpg" (check with: kubectl auth can-i get packetcaptures.monitoring.openshift.tpg -n packet-capture)`,
		},
		"ForbiddenJobs": {
			reason: "Missing RBAC for the Jobs names them.",
			name:   testPC, setup: forbid("list", "jobs"),
			wantErr: `not allowed to list jobs.batch in namespace packet-capture: your RBAC needs verb "list" on resource "jobs.batch"`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			jobs := plannedJobs(t, v1beta1.Output{Type: v1beta1.OutputPod}, v1beta1.JobPerPod, map[string]string{"web-1": "node-a"})
			pod := podOf(jobs[0], "a", corev1.PodRunning, true, "")
			// A capture Pod of another capture in the same namespace.
			other := pod.DeepCopy()
			other.Name, other.Labels[capture.LabelCapture] = "other-pod", "another-capture"
			// A Pod with the capture's label that is no capture Pod (someone's
			// debug Pod): not a source.
			stray := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "stray", Namespace: testNS, Labels: map[string]string{capture.LabelCapture: testPC}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "debug", Image: "busybox"}}}}
			c := newCluster(t, []runtime.Object{&jobs[0], pod, other, stray}, packetCapture(tc.name, tc.xr))
			if tc.name == "nope" {
				c = newCluster(t, []runtime.Object{&jobs[0], pod}, packetCapture(testPC, ""))
			}
			if tc.setup != nil {
				tc.setup(c)
			}
			cp, err := c.client().Find(context.Background(), testNS, tc.name)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("%s\nFind: %v, want an error saying %q", tc.reason, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range cp.Sources {
				got = append(got, s.Name)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("%s\nsources (-want +got):\n%s", tc.reason, d)
			}
		})
	}
}

func TestList(t *testing.T) {
	other := packetCapture("capture-db", "")
	other.SetNamespace("team-b")
	delete(other.Object, "status")
	c := newCluster(t, nil, packetCapture(testPC, ""), other)
	got, err := c.client().List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteList(&buf, got, true); err != nil {
		t.Fatal(err)
	}
	want := `NAMESPACE       NAME         PHASE      JOB-ID  TARGETS  ACTIVE  SUCCEEDED  FAILED  GONE  PACKETS  BYTES  DROPPED
packet-capture  capture-web  Completed  qwer    2        -       2          -       -     7        -      -
team-b          capture-db   -          -       -        -       -          -       -     -        -      -
`
	if d := cmp.Diff(want, buf.String()); d != "" {
		t.Errorf("list (-want +got):\n%s", d)
	}
}

func TestWriteTable(t *testing.T) {
	sum, err := capture.ParseSummary("status=ok files=2 bytes=300 packets=12 dropped=3 start=" + testStart)
	if err != nil {
		t.Fatal(err)
	}
	results := []*Result{
		{Source: &Source{Name: "web-1-qwer-a", Node: "node-a", Summary: &sum}, Verification: Verification{Bytes: 300, Files: 2, Checked: "size+sha256"}},
		{Source: &Source{Name: "web-2-qwer-a", Node: "node-b"}, Err: errors.Join(ErrGone, errors.New("x"))},
		{Source: &Source{Name: "web-3-qwer-a", Node: "node-b", Summary: &sum}, Verification: Verification{Bytes: 299, Files: 2, Checked: "size", Problems: []string{"short"}}},
	}
	var buf bytes.Buffer
	if err := WriteTable(&buf, results); err != nil {
		t.Fatal(err)
	}
	want := `POD           NODE    PACKETS  BYTES  DROPS  FILES  VERIFIED
web-1-qwer-a  node-a  12       300    3      2      yes (size+sha256)
web-2-qwer-a  node-b  -        0      -      0      gone
web-3-qwer-a  node-b  12       299    3      2      MISMATCH
`
	if d := cmp.Diff(want, buf.String()); d != "" {
		t.Errorf("table (-want +got):\n%s", d)
	}
}

func TestProgress(t *testing.T) {
	now := t0
	clock := func() time.Time { return now }
	cases := map[string]struct {
		terminal bool
		total    int64
		want     string
	}{
		"Plain": {terminal: false, total: 4 << 20, want: "fetched web-1: 4.0 MiB in 2.0s\n"},
		"Bar": {terminal: true, total: 4 << 20,
			want: "\r\033[Kweb-1 [===============>              ]  50%  2.0 MiB / 4.0 MiB  2.0 MiB/s" +
				"\r\033[Kweb-1 [==============================] 100%  4.0 MiB / 4.0 MiB  2.0 MiB/s" +
				"\r\033[Kweb-1 [==============================] 100%  4.0 MiB / 4.0 MiB  2.0 MiB/s\n"},
		"UnknownSize": {terminal: true,
			want: "\r\033[Kweb-1  2.0 MiB  2.0 MiB/s\r\033[Kweb-1  4.0 MiB  2.0 MiB/s\r\033[Kweb-1  4.0 MiB  2.0 MiB/s\n"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			now = t0
			var buf bytes.Buffer
			p := &Progress{Out: &buf, Terminal: tc.terminal, Now: clock}
			b := p.Start("web-1", tc.total)
			now = now.Add(time.Second)
			_, _ = b.Write(make([]byte, 2<<20))
			now = now.Add(time.Second)
			_, _ = b.Write(make([]byte, 2<<20))
			b.Done()
			if d := cmp.Diff(tc.want, buf.String()); d != "" {
				t.Errorf("progress (-want +got):\n%q\n%q", tc.want, buf.String())
			}
		})
	}
	// A nil Progress reports nothing and still counts for nobody.
	var p *Progress
	b := p.Start("x", 1)
	if n, err := b.Write([]byte("abc")); n != 3 || err != nil {
		t.Errorf("nil bar Write = %d, %v", n, err)
	}
	b.Done()
}
