package capture

import (
	"testing"

	batchv1 "k8s.io/api/batch/v1"
)

// TestPlanFixedPoint reconciles again and again with the same Jobs, feeding
// each status back, as Crossplane does while nothing changes: the plan must
// settle, never alternate.
func TestPlanFixedPoint(t *testing.T) {
	r := testRequest()
	first := reconcile(t, r, nil)
	var jobs []batchv1.Job
	for _, j := range first.Jobs {
		jobs = append(jobs, asObserved(j.Job))
	}
	for name, states := range map[string][]batchv1.Job{
		"all ready":     {withJobStatus(jobs[0], 1, 1), withJobStatus(jobs[1], 1, 1), withJobStatus(jobs[2], 1, 1)},
		"one not ready": {withJobStatus(jobs[0], 1, 1), withJobStatus(jobs[1], 1, 1), withJobStatus(jobs[2], 1, 0)},
		"all running":   {withJobStatus(jobs[0], 1, 0), withJobStatus(jobs[1], 1, 0), withJobStatus(jobs[2], 1, 0)},
	} {
		t.Run(name, func(t *testing.T) {
			r.Jobs = states
			prev := first
			var phases []string
			for range 6 {
				o := reconcile(t, r, prev)
				phases = append(phases, string(o.Status.Phase)+"/"+o.Status.Message)
				prev = o
			}
			for i := 2; i < len(phases); i++ {
				if phases[i] != phases[i-1] {
					t.Errorf("reconcile %d: %q, then %q: the plan does not settle: %q", i, phases[i-1], phases[i], phases)
				}
			}
		})
	}
}
