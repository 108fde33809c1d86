package krm

import (
	"strings"
	"testing"
)

// TestConfigIntegerRange: an integer too large for its Input field, as a
// typed functionConfig or as a kpt key=value argument, is told the field's
// range rather than that it is not an integer.
func TestConfigIntegerRange(t *testing.T) {
	const capture = "- apiVersion: monitoring.openshift.tpg/v1alpha1\n  kind: PacketCapture\n  metadata: {name: c, namespace: captures}\n  spec: {targetNamespace: shop, targetDeployment: web, duration: '30'}\n"
	cases := map[string]struct{ config, want string }{
		"Input": {
			config: "functionConfig:\n  apiVersion: packetcapture.fn.crossplane.io/v1beta1\n  kind: Input\n  maxFiles: 3000000000\n",
			want:   `functionConfig.maxFiles: Invalid value: "3000000000": must be an integer from 1 to 1000`,
		},
		"kpt argument": {
			config: "functionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: args}\n  data: {maxFiles: '99999999999999999999'}\n",
			want:   `functionConfig.data.maxFiles: Invalid value: "100000000000000000000": must be an integer from 1 to 1000`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			out, err := runFn([]byte("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\n" + tc.config + "items:\n" + capture))
			if err == nil || !strings.Contains(string(out), tc.want) {
				t.Fatalf("error %v; want %q in:\n%s", err, tc.want, out)
			}
		})
	}
}
