package capture

import "testing"

// TestDecodePacketCaptureNamespace: a legacy cluster-scoped XR has no
// namespace; both adapters plan it in its claim's, which Crossplane records
// in a label. An object's own namespace wins.
func TestDecodePacketCaptureNamespace(t *testing.T) {
	spec := map[string]any{"targetNamespace": "shop", "targetDeployment": "web", "duration": "30s"}
	cases := map[string]struct {
		meta map[string]any
		want string
	}{
		"namespaced": {meta: map[string]any{"name": "c", "namespace": "team"}, want: "team"},
		"legacy XR in its claim's namespace": {meta: map[string]any{"name": "c-x1",
			"labels": map[string]any{labelClaimNamespace: "team"}}, want: "team"},
		"own namespace wins over the label": {meta: map[string]any{"name": "c", "namespace": "team",
			"labels": map[string]any{labelClaimNamespace: "other"}}, want: "team"},
		"neither": {meta: map[string]any{"name": "c"}, want: ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			pc, err := DecodePacketCapture(map[string]any{"metadata": tc.meta, "spec": spec})
			if err != nil {
				t.Fatal(err)
			}
			if pc.Namespace != tc.want {
				t.Errorf("Namespace = %q, want %q", pc.Namespace, tc.want)
			}
		})
	}
}
