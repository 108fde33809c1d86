package krm

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"sigs.k8s.io/kustomize/kyaml/fn/framework"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// BenchmarkKRM runs the KRM function on an export of a Deployment of 1,000
// and 10,000 running Pods (each a realistic Pod as kubectl prints it, about
// 90 lines, in one v1 List, spread over 50 nodes) beside kyaml baselines:
//   - passthrough reads the ResourceList and writes it back unchanged, with
//     kyaml's framework.Execute;
//   - echo reads it and writes the function's output (the same items plus
//     the ConfigMap and the Jobs, made in advance) with framework.Execute, as
//     the Crossplane adapter's benchmark decodes a request and encodes an
//     equal response;
//   - krm is the function: Run.
//
// Each size runs in input.jobPer Auto with maxPodJobs 1,000 (the default
// until the real-node figures lowered it to 10, kept so the figures compare
// over time): 1,000 Pods get
// one Job per Pod, output about twice the input; 10,000 Pods get one Job per
// node, 50 Jobs. pods=10000,jobPer=Pod forces one Job per Pod at 10,000
// Pods, 10,000 Jobs, to show what that costs.
//
// Run writes its output item by item, and a List entry by entry (write.go):
// kyaml's writer encodes the whole ResourceList as one YAML document, which
// costs more than reading it. read, kyaml reading the ResourceList alone,
// shows the floor.
//
// Each also reports cpu-ms/op, the process's user and system CPU time (GC
// included) per run, steadier than wall time on a shared machine.
//
//	go test ./krm -run '^$' -bench BenchmarkKRM -benchmem
func BenchmarkKRM(b *testing.B) {
	for _, c := range []struct {
		pods   int
		jobPer string
	}{{1000, ""}, {10000, ""}, {10000, "Pod"}} {
		in := benchInput(c.pods, c.jobPer)
		name := fmt.Sprintf("pods=%d", c.pods)
		if c.jobPer != "" {
			name += ",jobPer=" + c.jobPer
		}
		b.Run(name+"/read", func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			defer reportCPU(b)()
			for b.Loop() {
				rw := &kio.ByteReadWriter{Reader: bytes.NewReader(in), KeepReaderAnnotations: true}
				if _, err := rw.Read(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/passthrough", func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			defer reportCPU(b)()
			for b.Loop() {
				rw := &kio.ByteReadWriter{Reader: bytes.NewReader(in), Writer: io.Discard, KeepReaderAnnotations: true}
				if err := framework.Execute(framework.ResourceListProcessorFunc(func(*framework.ResourceList) error { return nil }), rw); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/echo", func(b *testing.B) {
			generated, results := benchOutput(b, in)
			b.SetBytes(int64(len(in)))
			b.ResetTimer()
			defer reportCPU(b)()
			for b.Loop() {
				rw := &kio.ByteReadWriter{Reader: bytes.NewReader(in), Writer: io.Discard, KeepReaderAnnotations: true}
				echo := func(rl *framework.ResourceList) error {
					for _, n := range generated {
						rl.Items = append(rl.Items, n.Copy())
					}
					rl.Results = results
					return nil
				}
				if err := framework.Execute(framework.ResourceListProcessorFunc(echo), rw); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/krm", func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			var out bytes.Buffer
			defer reportCPU(b)()
			for b.Loop() {
				out.Reset()
				if err := Run(bytes.NewReader(in), &out); err != nil {
					b.Fatal(err)
				}
			}
			want := c.pods
			if c.jobPer == "" && c.pods > 1000 {
				want = benchNodes
			}
			if n := strings.Count(out.String(), "\n  kind: Job\n"); n != want {
				b.Fatalf("%d Jobs for %d Pods, want %d", n, c.pods, want)
			}
		})
	}
}

// BenchmarkKRMOverPassthrough is the budget's measure: in each iteration it
// runs the kyaml passthrough, the echo (framework.Execute writing the
// function's output, made in advance: the same bytes out) and the function
// (Run) on the same input, in turns, and reports the ratio of their CPU
// times (the process's user and system time, GC included; a collection
// runs, untimed, before each), which a busy machine disturbs far less than
// wall time. Each size runs in its default jobPer. The budget is
// krm-x-passthrough <= 1.5; krm-x-echo compares with kyaml writing the same
// output (the passthrough writes only the input).
//
//	go test ./krm -run '^$' -bench BenchmarkKRMOverPassthrough -count 5
func BenchmarkKRMOverPassthrough(b *testing.B) {
	for _, pods := range []int{1000, 10000} {
		in := benchInput(pods, "")
		generated, results := benchOutput(b, in)
		b.Run(fmt.Sprintf("pods=%d", pods), func(b *testing.B) {
			var passthrough, echo, krm time.Duration
			timed := func(run func() error) time.Duration {
				b.StopTimer()
				runtime.GC()
				b.StartTimer()
				start := cpuTime()
				if err := run(); err != nil {
					b.Fatal(err)
				}
				return cpuTime() - start
			}
			for b.Loop() {
				passthrough += timed(func() error {
					rw := &kio.ByteReadWriter{Reader: bytes.NewReader(in), Writer: io.Discard, KeepReaderAnnotations: true}
					return framework.Execute(framework.ResourceListProcessorFunc(func(*framework.ResourceList) error { return nil }), rw)
				})
				echo += timed(func() error {
					rw := &kio.ByteReadWriter{Reader: bytes.NewReader(in), Writer: io.Discard, KeepReaderAnnotations: true}
					return framework.Execute(framework.ResourceListProcessorFunc(func(rl *framework.ResourceList) error {
						for _, n := range generated {
							rl.Items = append(rl.Items, n.Copy())
						}
						rl.Results = results
						return nil
					}), rw)
				})
				krm += timed(func() error { return Run(bytes.NewReader(in), io.Discard) })
			}
			b.ReportMetric(float64(passthrough.Milliseconds())/float64(b.N), "passthrough-cpu-ms/op")
			b.ReportMetric(float64(krm.Milliseconds())/float64(b.N), "krm-cpu-ms/op")
			b.ReportMetric(float64(krm)/float64(passthrough), "krm-x-passthrough")
			b.ReportMetric(float64(krm)/float64(echo), "krm-x-echo")
		})
	}
}

// reportCPU reports the process's CPU time per op from now to the call of
// the function it returns.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() {
		b.ReportMetric(float64((cpuTime()-start).Milliseconds())/float64(b.N), "cpu-ms/op")
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchOutput runs the function once and returns the objects it generated
// and its results.
func benchOutput(b *testing.B, in []byte) ([]*yaml.RNode, framework.Results) {
	b.Helper()
	var out bytes.Buffer
	if err := Run(bytes.NewReader(in), &out); err != nil {
		b.Fatal(err)
	}
	rw := &kio.ByteReader{Reader: &out, OmitReaderAnnotations: true}
	items, err := rw.Read()
	if err != nil {
		b.Fatal(err)
	}
	var generated []*yaml.RNode
	for _, it := range items {
		if it.GetAnnotations()[AnnotationGeneratedBy] == GeneratedBy {
			generated = append(generated, it)
		}
	}
	var results framework.Results
	if err := yaml.Unmarshal([]byte(rw.Results.MustString()), &results); err != nil {
		b.Fatal(err)
	}
	return generated, results
}

// benchNodes is the number of nodes benchInput's Pods are spread over.
const benchNodes = 50

// benchInput is a ResourceList as kpt sends it: the PacketCapture, the Input
// (with jobPer, unless empty) and a v1 List of the Deployment, its
// ReplicaSet and its Pods, spread over benchNodes nodes.
func benchInput(pods int, jobPer string) []byte {
	jobPerLine := ""
	if jobPer != "" {
		jobPerLine = "  jobPer: " + jobPer + "\n"
	}
	var s strings.Builder
	s.WriteString(`apiVersion: config.kubernetes.io/v1
kind: ResourceList
functionConfig:
  apiVersion: packetcapture.fn.crossplane.io/v1beta1
  kind: Input
  metadata:
    name: settings
  maxTargetPods: 10000
  maxPodJobs: 1000
` + jobPerLine + `items:
- apiVersion: monitoring.openshift.tpg/v1alpha1
  kind: PacketCapture
  metadata:
    name: capture-web
    namespace: packet-capture
    labels:
      app.kubernetes.io/instance: capture-web
    annotations:
      config.kubernetes.io/path: packetcapture.yaml
      config.kubernetes.io/index: '0'
  spec:
    jobId: qwer
    targetNamespace: shop
    targetDeployment: web
    duration: "30"
- apiVersion: v1
  kind: List
  metadata:
    name: shop
    annotations:
      config.kubernetes.io/path: cluster/shop.yaml
      config.kubernetes.io/index: '0'
  items:
  - apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
      namespace: shop
      uid: 4f0c2a1e-8b7d-4c2e-9a51-3d6e7f8a9b01
      labels:
        app.kubernetes.io/name: web
    spec:
      replicas: ` + fmt.Sprint(pods) + `
      selector:
        matchLabels:
          app.kubernetes.io/name: web
      template:
        metadata:
          labels:
            app.kubernetes.io/name: web
        spec:
          containers:
          - name: web
            image: registry.example.com/shop/web:1.4.2
  - apiVersion: apps/v1
    kind: ReplicaSet
    metadata:
      name: web-6d8f9c7b5d
      namespace: shop
      uid: 7b2e4c6a-1d3f-4a5b-8c7d-9e0f1a2b3c41
      labels:
        app.kubernetes.io/name: web
        pod-template-hash: 6d8f9c7b5d
      ownerReferences:
      - apiVersion: apps/v1
        kind: Deployment
        name: web
        uid: 4f0c2a1e-8b7d-4c2e-9a51-3d6e7f8a9b01
        controller: true
        blockOwnerDeletion: true
    spec:
      selector:
        matchLabels:
          app.kubernetes.io/name: web
          pod-template-hash: 6d8f9c7b5d
`)
	for i := range pods {
		name := fmt.Sprintf("web-6d8f9c7b5d-%05d", i)
		ip := fmt.Sprintf("10.%d.%d.%d", 128+i/65536, i/256%256, i%256)
		fmt.Fprintf(&s, `  - apiVersion: v1
    kind: Pod
    metadata:
      name: %[1]s
      generateName: web-6d8f9c7b5d-
      namespace: shop
      uid: a1b2c3d4-%08[3]d-4e5f-8a9b-0c1d2e3f4a01
      resourceVersion: "918301"
      creationTimestamp: "2026-11-20T13:02:11Z"
      labels:
        app.kubernetes.io/name: web
        pod-template-hash: 6d8f9c7b5d
      annotations:
        k8s.ovn.org/pod-networks: '{"default":{"ip_addresses":["%[2]s/23"]}}'
        openshift.io/scc: restricted-v2
      ownerReferences:
      - apiVersion: apps/v1
        kind: ReplicaSet
        name: web-6d8f9c7b5d
        uid: 7b2e4c6a-1d3f-4a5b-8c7d-9e0f1a2b3c41
        controller: true
        blockOwnerDeletion: true
    spec:
      serviceAccountName: web
      restartPolicy: Always
      dnsPolicy: ClusterFirst
      schedulerName: default-scheduler
      terminationGracePeriodSeconds: 30
      securityContext:
        runAsNonRoot: true
        seccompProfile:
          type: RuntimeDefault
      tolerations:
      - key: node.kubernetes.io/not-ready
        operator: Exists
        effect: NoExecute
        tolerationSeconds: 300
      containers:
      - name: web
        image: registry.example.com/shop/web:1.4.2
        imagePullPolicy: Always
        ports:
        - containerPort: 8080
          protocol: TCP
        resources:
          requests:
            cpu: 125m
            memory: 128Mi
          limits:
            cpu: 500m
            memory: 256Mi
        terminationMessagePath: /dev/termination-log
        terminationMessagePolicy: File
        volumeMounts:
        - name: kube-api-access-7xq2z
          mountPath: /var/run/secrets/kubernetes.io/serviceaccount
          readOnly: true
      volumes:
      - name: kube-api-access-7xq2z
        projected:
          defaultMode: 420
          sources:
          - serviceAccountToken:
              expirationSeconds: 3607
              path: token
      nodeName: worker-%02[4]d.example.internal
    status:
      phase: Running
      qosClass: Burstable
      hostIP: 10.0.0.%[4]d
      podIP: %[2]s
      podIPs:
      - ip: %[2]s
      startTime: "2026-11-20T13:02:11Z"
      conditions:
      - type: Ready
        status: "True"
        lastProbeTime: null
        lastTransitionTime: "2026-11-20T13:02:19Z"
      - type: PodScheduled
        status: "True"
        lastProbeTime: null
        lastTransitionTime: "2026-11-20T13:02:11Z"
      containerStatuses:
      - name: web
        ready: true
        started: true
        restartCount: 0
        image: registry.example.com/shop/web:1.4.2
        imageID: registry.example.com/shop/web@sha256:4c1b9e0f2a7d3c5e8b6a9f0d1c2e3b4a5f6e7d8c9b0a1f2e3d4c5b6a7f8e9d0c
        containerID: cri-o://9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b
        state:
          running:
            startedAt: "2026-11-20T13:02:18Z"
`, name, ip, i, i%benchNodes)
	}
	return []byte(s.String())
}
