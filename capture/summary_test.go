package capture

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseSummary(t *testing.T) {
	cases := map[string]struct {
		text    string
		want    Summary
		wantErr bool
	}{
		"TwoTargetsOneGone": {
			text: `status=gone targets=2 failed=1 files=2 bytes=123456 packets=1000 dropped=3 start=20261124T101500Z
#pod status packets bytes dropped files seconds
1 ok 500 61728 0 1 30
2 gone 500 61728 3 1 12
why 2 its process 4711 ended 12 s into the capture
shop_web-1_ab12_20261124T101500Z.pcap
shop_web-2_ab12_20261124T101500Z.pcap
... and 1 more
`,
			want: Summary{
				Status: "gone", Files: 2, Bytes: 123456, Packets: 1000, Dropped: 3, Start: "20261124T101500Z",
				Targets: []TargetSummary{
					{Index: 1, Status: CaptureOK, Packets: 500, Bytes: 61728, Files: 1, Seconds: 30},
					{Index: 2, Status: CaptureGone, Packets: 500, Bytes: 61728, Dropped: 3, Files: 1, Seconds: 12, Why: "its process 4711 ended 12 s into the capture"},
				},
				FileNames:    []string{"shop_web-1_ab12_20261124T101500Z.pcap", "shop_web-2_ab12_20261124T101500Z.pcap"},
				FilesOmitted: 1,
			},
		},
		"HeadOnly": {
			text: "status=bad-settings targets=1 failed=0 files=0 bytes=0 packets=0 dropped=0 start=\nduration-seconds: not an integer",
			want: Summary{Status: CaptureBadSettings},
		},
		"Empty":        {text: "", wantErr: true},
		"NoStatus":     {text: "files=1 bytes=2\n", wantErr: true},
		"NotKeyValue":  {text: "capture: something broke\n", wantErr: true},
		"BadNumber":    {text: "status=ok packets=many\n", wantErr: true},
		"ShortTargets": {text: "status=ok\n1 ok 5 6\n-1 ok 1 1 1 1 1\n", want: Summary{Status: CaptureOK}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := ParseSummary(tc.text)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseSummary() error = %v, want error %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseSummary() -want +got:\n%s", diff)
			}
			if _, ok := got.Target(2); ok != (len(got.Targets) > 1) {
				t.Errorf("Target(2) found = %v with %d targets", ok, len(got.Targets))
			}
		})
	}
}

// TestLedgerResult: a result the planner wrote to the ledger reads back as
// the summary line it came from; what is not a result does not read.
func TestLedgerResult(t *testing.T) {
	for _, r := range []result{
		{status: CaptureOK, packets: 7, bytes: 1234, dropped: 1, files: 2, secs: 30},
		{status: CaptureGone, packets: 3, bytes: 300, files: 1, secs: 12, why: "its process 4711 ended 12 s into the capture"},
	} {
		got, ok := LedgerResult(r.String())
		want := TargetSummary{Index: 1, Status: r.status, Packets: r.packets, Bytes: r.bytes, Dropped: r.dropped, Files: r.files, Seconds: r.secs, Why: r.why}
		if !ok || got != want {
			t.Errorf("LedgerResult(%q) = %+v, %t; want %+v", r.String(), got, ok, want)
		}
	}
	for _, line := range []string{"", "ok 1 2 3", "ok 1 2 x 4 5", "ok -1 2 3 4 5"} {
		if got, ok := LedgerResult(line); ok {
			t.Errorf("LedgerResult(%q) = %+v, want not a result", line, got)
		}
	}
}
