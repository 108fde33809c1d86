package capture

import (
	"cmp"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/function-packet-capture/function-packet-capture/input/v1beta1"
)

// InvalidError is returned for input nothing may be planned from. Each field
// error names the field and the rule it breaks.
type InvalidError struct {
	// Of names what is invalid in the message: the PacketCapture unless
	// set.
	Of     string
	Errors field.ErrorList
}

// maxShownValue bounds how much of a bad value an error repeats. The message
// goes back to Crossplane in a response its gRPC client caps at 4 MiB, and
// into events and conditions: a 10 MB value must not ride along.
const maxShownValue = 128

// newInvalidError returns the field errors as an InvalidError, each bad value
// cut to maxShownValue bytes.
func newInvalidError(errs field.ErrorList) *InvalidError {
	out := make(field.ErrorList, len(errs))
	for i, err := range errs {
		e := *err
		if v := reflect.ValueOf(e.BadValue); v.Kind() == reflect.String {
			if s := v.String(); len(s) > maxShownValue {
				cut := maxShownValue
				for cut > 0 && !utf8.RuneStart(s[cut]) {
					cut--
				}
				e.BadValue = fmt.Sprintf("%s... (%d bytes)", s[:cut], len(s))
			}
		} else if e.BadValue != nil && len(fmt.Sprintf("%#v", e.BadValue)) > maxShownValue {
			e.BadValue = fmt.Sprintf("(%T, too long to show)", e.BadValue)
		}
		out[i] = &e
	}
	return &InvalidError{Errors: out}
}

// newInputError is newInvalidError for the function's Input.
func newInputError(errs field.ErrorList) *InvalidError {
	e := newInvalidError(errs)
	e.Of = "Input"
	return e
}

func (e *InvalidError) Error() string {
	msgs := make([]string, len(e.Errors))
	for i, err := range e.Errors {
		msgs[i] = err.Error()
	}
	return "invalid " + cmp.Or(e.Of, "PacketCapture") + ": " + strings.Join(msgs, "; ")
}

// podCapture is what the planner knows of one target Pod's capture.
type podCapture struct {
	target target
	job    string
	phase  Phase
	detail string
	// planned is the Job to keep or create, nil when there is none.
	planned *batchv1.Job
	// result is what the capture's summary says, once read.
	result *result
	// partial: the capture holds less than the whole duration.
	partial bool
}

// Validate checks a PacketCapture and the Input without planning: adapters
// call it before asking for the target's objects, so bad input fails at once.
func Validate(pc PacketCapture, in *v1beta1.Input) error {
	if _, errs := resolveSettings(pc, in); len(errs) > 0 {
		return newInvalidError(errs)
	}
	return nil
}

// Plan computes the ConfigMap, Jobs and status of a capture. It never
// drops a Job that exists: a running capture and its files survive the Pod,
// the Deployment and any change to the spec. Its steps, in order: resolve
// the settings, take stock of the Jobs that exist and of the captures the
// ledger remembers, select the target Pods, request Jobs for the new ones,
// read the captures' outcomes, and write the status and events.
func Plan(req Request) (*Desired, error) {
	req = withNewestCopies(req)
	s, errs := resolveSettings(req.Capture, req.Input)
	if len(errs) > 0 {
		return nil, newInvalidError(errs)
	}
	p := newPlanner(req, s)
	p.summaries, p.unreadable = captureSummaries(req.CapturePods, s.jobID)
	p.stopping = stoppingCapturePods(req.CapturePods)
	for i := range req.Jobs {
		p.observeJob(&req.Jobs[i])
	}
	p.recallRemovedJobs()
	started := len(p.byPod) > 0 || len(p.known) > 0
	sel := p.selectTargets()
	newTargets, notCaptured := p.splitNewPods(sel.eligible, started)
	if n := len(p.byPod) + len(newTargets); n > int(s.maxTargetPods) {
		return nil, newInvalidError(field.ErrorList{field.Forbidden(field.NewPath("spec", "targetDeployment"),
			fmt.Sprintf("capturing Deployment %s/%s means %d capture Pods, more than the platform allows (input.maxTargetPods=%d); capture a smaller Deployment or ask for a higher limit",
				req.Capture.Spec.TargetNamespace, req.Capture.Spec.TargetDeployment, n, s.maxTargetPods))})
	}
	jobPer := captureJobPer(s, p.ledger.JobPer, started, p.sawNodeJob, len(newTargets))
	p.requestJobs(jobPer, newTargets)
	captures := p.outcomes()
	p.out.Status, p.out.Headline = status(req.Capture, s, req.Deployment, captures, sel.skipped, notCaptured)
	if started || len(newTargets) > 0 {
		p.out.Status.Ledger.JobPer = jobPer
		p.out.Status.Ledger.Output = p.outputRecord()
	}
	p.out.Ready = p.out.Status.Counts.Targets > 0 && p.out.Status.Phase == PhaseCompleted
	p.orderEvents(sel.skipped, notCaptured, p.unreadable)
	return p.out, nil
}

// planner is one Plan under way: what it knows of each target Pod's capture
// and what it has decided so far.
type planner struct {
	req    Request
	s      settings
	newJob func(name string, targets []target) *batchv1.Job
	out    *Desired

	// ledger is the record of this jobId (empty for a new one); known,
	// nodeOf and recorded are what it says, by Pod.
	ledger   Ledger
	known    map[string]Phase
	nodeOf   map[string]string
	recorded map[string]result

	// summaries are the results the capture Pods in view report, by
	// target Pod; unreadable names the capture Pods whose termination
	// message is not a summary. stopping holds the Jobs with a capture Pod
	// that has not ended yet.
	summaries  map[string]targetSummary
	unreadable []string
	stopping   map[string]bool

	byPod map[string]*podCapture
	// kept are Jobs of another jobId, kept while they run.
	kept []PlannedJob
	// drifted Pods' Jobs keep settings the spec or Input no longer has;
	// misnamed Jobs have names no object can have.
	drifted, misnamed []string
	// sawNodeJob: a Job of this jobId captures a node's Pods, which tells
	// the capture's JobPer when the ledger does not.
	sawNodeJob bool
	// jobOutput is where the first (by name) Job of this jobId writes,
	// which tells the capture's output when the ledger does not.
	jobOutput     *OutputRecord
	jobOutputFrom string
}

func newPlanner(req Request, s settings) *planner {
	cm := configMap(req.Capture, s)
	p := &planner{req: req, s: s, newJob: jobMaker(req.Capture, s, cm.Name), out: &Desired{ConfigMap: cm},
		ledger: req.Capture.Status.Ledger, byPod: make(map[string]*podCapture)}
	if p.ledger.JobID != s.jobID {
		// A new jobId is a new capture: the old one's Jobs are kept while
		// they exist, but its record no longer decides anything.
		p.ledger = Ledger{}
	}
	p.known = p.ledger.phases()
	p.nodeOf, p.recorded = p.ledger.nodesAndResults()
	return p
}

// observeJob decides about a Job that exists: it stays planned until its
// capture has finished and its outcome is recorded.
func (p *planner) observeJob(observed *batchv1.Job) {
	if len(validation.IsDNS1123Subdomain(observed.Name)) > 0 {
		// No such Job can exist; the KRM adapter would make a file path of
		// its name ("../../etc/x").
		p.misnamed = append(p.misnamed, fmt.Sprintf("%.80q", observed.Name))
		return
	}
	phase, detail := jobPhase(observed)
	targets, ok := targetsOfJob(observed)
	per := jobPerOfName(observed.Name, targets, p.s.jobID)
	ours := ok && per != ""
	p.sawNodeJob = p.sawNodeJob || per == v1beta1.JobPerNode
	if out, ok := OutputOf(&observed.Spec.Template.Spec); ours && ok && (p.jobOutput == nil || observed.Name < p.jobOutputFrom) {
		p.jobOutput, p.jobOutputFrom = &out, observed.Name
	}
	record := func(phase Phase, detail string, planned *batchv1.Job) {
		for i, t := range targets {
			phase, detail := advance(p.known[t.Name], phase, detail)
			c := &podCapture{target: t, job: observed.Name, phase: phase, detail: detail}
			if i == 0 {
				// One capture carries the Job its Pods share.
				c.planned = planned
			}
			p.byPod[t.Name] = c
		}
	}
	finished := phase == PodSucceeded || phase == PodFailed
	switch {
	case observed.DeletionTimestamp != nil:
		// A Job being deleted (its TTL, garbage collection, by hand) is not
		// planned again: Crossplane would create it anew once it is gone,
		// and a finished capture would run twice. Its outcome goes to the
		// ledger.
		if ours {
			switch phase {
			case PodRetrievable:
				phase, detail = PodSucceeded, ""
			case PodSucceeded, PodFailed:
			default:
				phase, detail = PodGone, "its Job was deleted before the capture finished"
			}
			record(phase, detail, nil)
		}
	case !ours:
		// Not of this jobId (or not recognisable): keep it untouched while
		// it runs; once finished it is released.
		if !finished {
			p.kept = append(p.kept, PlannedJob{Job: keptJob(observed), Ready: phase.done()})
		}
	case finished && p.awaitsSummary(observed, targets):
		// Held: the summary its capture Pod wrote is not in view yet, and
		// once the Job is gone the capture Pod (orphaned or deleted with
		// it) no longer tells. Crossplane's views of Jobs and Pods are two
		// watches: the Job can be seen Complete before its Pod has ended.
		planned, _ := p.replan(observed, targets)
		record(phase, detail, planned)
		p.out.AwaitingSummaries = true
	case finished:
		// Released: its outcome goes to the ledger and it is planned no
		// more, so Crossplane removes it. Planning a finished Job would race
		// its ttlSecondsAfterFinished: an apply after the TTL controller
		// deleted it creates it anew, and the capture runs twice. Its files
		// outlive it (the Pod output's retention window ended before the
		// Job finished).
		record(phase, detail, nil)
	default:
		planned, drifted := p.replan(observed, targets)
		if drifted {
			for _, t := range targets {
				p.drifted = append(p.drifted, t.Name)
			}
		}
		record(phase, detail, planned)
	}
}

// replan is the Job to plan for one that exists: the same Job, as this
// capture's settings make it, or as it is when they changed (drifted) since,
// because a Job's pod template cannot change.
func (p *planner) replan(observed *batchv1.Job, targets []target) (planned *batchv1.Job, drifted bool) {
	planned = p.newJob(observed.Name, targets)
	if observed.Annotations[annotationTemplateHash] != planned.Annotations[annotationTemplateHash] {
		return keptJob(observed), true
	}
	return planned, false
}

// minHoldTTLSeconds is the shortest ttlSecondsAfterFinished with which a
// finished Job is held for its summary: the hold must end long before the
// TTL controller deletes the Job, or an apply after that would create it
// anew. A hold lasts while Crossplane's view of the capture Pod lags its
// Job's, which is well under a second on a healthy cluster.
const minHoldTTLSeconds = 60

// awaitsSummary tells whether a finished Job of this capture is held until
// its summary is read: some of its Pods have no result yet, and one of its
// capture Pods is in view still running, which tells that the view lags
// or that the Pod is still stopping. A capture Pod that ended without a
// summary, or that is gone, has nothing more to tell: the Job is released.
func (p *planner) awaitsSummary(observed *batchv1.Job, targets []target) bool {
	if ttl := observed.Spec.TTLSecondsAfterFinished; ttl != nil && *ttl < minHoldTTLSeconds {
		return false
	}
	if !p.stopping[observed.Name] {
		return false
	}
	for _, t := range targets {
		if _, ok := p.recorded[t.Name]; ok {
			continue
		}
		if _, ok := p.summaries[t.Name]; !ok {
			return true
		}
	}
	return false
}

// recallRemovedJobs takes the captures the ledger recorded whose Job is
// gone: they are never run again.
func (p *planner) recallRemovedJobs() {
	for pod, phase := range p.known {
		if _, ok := p.byPod[pod]; ok {
			continue
		}
		c := &podCapture{target: target{Name: pod, Node: p.nodeOf[pod]}, phase: phase, detail: recordedDetail(phase)}
		switch phase {
		case PodRequested:
			// Asked for but never seen: decided with the Pods.
			continue
		case PodPending, PodRunning:
			c.phase, c.detail = PodGone, "its Job was deleted before the capture's outcome was seen"
		case PodRetrievable:
			// Its files were complete: the capture had finished.
			c.phase, c.detail = PodSucceeded, "the capture finished; its Job was removed before its summary was read"
		}
		p.byPod[pod] = c
	}
}

// selectTargets selects the Deployment's capturable Pods.
func (p *planner) selectTargets() selection {
	spec := p.req.Capture.Spec
	if p.req.Deployment == nil {
		p.out.Events = append(p.out.Events, Event{Severity: SeverityWarning, Reason: "DeploymentNotFound", Field: "spec.targetDeployment",
			Message: fmt.Sprintf("Deployment %s/%s not found; %d existing capture Jobs are kept", spec.TargetNamespace, spec.TargetDeployment, len(p.req.Jobs))})
		return selection{}
	}
	sel := selectTargets(spec, p.s, p.req.Deployment, p.req.ReplicaSets, p.req.Pods)
	p.out.Events = append(p.out.Events, sel.events...)
	return sel
}

// splitNewPods splits the eligible Pods without a capture into those to
// capture now and those that appeared after the capture started, which are
// captured only with spec.followNewPods.
func (p *planner) splitNewPods(eligible []target, started bool) (newTargets []target, notCaptured []PodStatus) {
	for _, t := range eligible {
		if _, ok := p.byPod[t.Name]; ok {
			continue
		}
		if p.known[t.Name] == PodRequested || !started || p.s.followNewPods {
			newTargets = append(newTargets, t)
			continue
		}
		notCaptured = append(notCaptured, PodStatus{Pod: t.Name, Node: t.Node, Phase: PodNotCaptured,
			Message: "appeared after the capture started; set spec.followNewPods to capture new Pods"})
	}
	return newTargets, notCaptured
}

// requestJobs plans the Jobs of the new targets, cut by jobPer, and gives
// up on the Pods whose Job was requested earlier but never created and that
// cannot be captured now.
func (p *planner) requestJobs(jobPer v1beta1.JobPer, newTargets []target) {
	jobID := p.s.jobID
	if jobPer == v1beta1.JobPerPod {
		// The ledger names Pods; in Pod mode their Jobs' names follow.
		for pod, c := range p.byPod {
			if c.job == "" {
				c.job = JobName(pod, jobID)
			}
		}
	}
	for _, group := range jobGroups(jobPer, newTargets) {
		name := JobName(group[0].Name, jobID)
		if jobPer == v1beta1.JobPerNode {
			name = NodeJobName(group[0].Node, podNames(group), jobID)
		}
		job := p.newJob(name, group)
		for i, t := range group {
			c := &podCapture{target: t, job: name, phase: PodRequested}
			if i == 0 {
				c.planned = job
			}
			p.byPod[t.Name] = c
		}
	}
	for pod, phase := range p.known {
		if _, ok := p.byPod[pod]; !ok && phase == PodRequested {
			c := &podCapture{target: target{Name: pod, Node: p.nodeOf[pod]}, phase: PodGone,
				detail: "its Job was never created and the Pod can no longer be captured"}
			if jobPer == v1beta1.JobPerPod {
				c.job = JobName(pod, jobID)
			}
			p.byPod[pod] = c
		}
	}
}

// outcomes reads each capture's result, from the ledger or its capture
// Pod's summary, and returns the captures sorted by Pod. The planned Jobs
// go to the output, sorted by name.
func (p *planner) outcomes() []*podCapture {
	summaries := p.summaries
	captures := make([]*podCapture, 0, len(p.byPod))
	for _, c := range p.byPod {
		// A result, once read, is kept: the capture Pod that holds the
		// summary goes away with its Job.
		if r, ok := p.recorded[c.target.Name]; ok {
			c.result = &r
		} else if sum, ok := summaries[c.target.Name]; ok && (sum.ended || c.phase.final()) {
			c.result = &sum.result
		}
		if c.result != nil {
			// The summary tells each Pod's outcome, where the Job tells
			// only the first failure of a node's Pods.
			c.phase, c.detail, c.partial = c.result.outcome(p.s.durationSeconds)
		}
		captures = append(captures, c)
	}
	slices.SortFunc(captures, func(a, b *podCapture) int { return cmp.Compare(a.target.Name, b.target.Name) })
	for _, c := range captures {
		if c.planned != nil {
			p.out.Jobs = append(p.out.Jobs, PlannedJob{Job: c.planned, Ready: c.phase.done()})
		}
	}
	p.out.Jobs = append(p.out.Jobs, p.kept...)
	slices.SortFunc(p.out.Jobs, func(a, b PlannedJob) int { return cmp.Compare(a.Job.Name, b.Job.Name) })
	return captures
}

// orderEvents puts the events in their order: the summary first, then what
// selecting the targets found, the unreadable summaries and the ignored
// Jobs.
func (p *planner) orderEvents(skipped, notCaptured []PodStatus, unreadable []string) {
	// Jobs come in the order the adapter found them (Crossplane's map of
	// observed resources has none): name them in one order, or the results
	// change from call to call.
	slices.Sort(p.drifted)
	slices.Sort(p.misnamed)
	p.out.Events = append(summaryEvents(p.out.Status, skipped, notCaptured, p.drifted, len(p.kept)), p.out.Events...)
	if len(unreadable) > 0 {
		p.out.Events = append(p.out.Events, Event{Severity: SeverityWarning, Reason: "CaptureSummaryUnreadable",
			Message: nameList("capture Pod", unreadable) + ": the termination message is not a capture summary, so the capture's packets and files are not known; see the capture Pod's logs"})
	}
	if len(p.misnamed) > 0 {
		p.out.Events = append(p.out.Events, Event{Severity: SeverityWarning, Reason: "InvalidJobName",
			Message: nameList("Job", p.misnamed) + " ignored: not a valid object name"})
	}
}

// outputRecord is where this capture's files are. It is recorded when the
// capture starts and kept, like JobPer: the Jobs keep the output they were
// made with when the Input changes, and the plugin reads the files by this
// record once the Jobs are gone. A ledger from before the record learns it
// from the Jobs that exist.
func (p *planner) outputRecord() *OutputRecord {
	switch {
	case p.ledger.Output != nil:
		r := *p.ledger.Output
		return &r
	case p.jobOutput != nil:
		return p.jobOutput
	}
	r := outputRecord(p.s)
	return &r
}

// captureJobPer is how this capture cuts its Pods into Jobs. It is decided
// once, when the capture starts, and kept in the ledger: a capture that
// changed its mind would capture some Pods twice.
func captureJobPer(s settings, recorded v1beta1.JobPer, started, sawNodeJob bool, newTargets int) v1beta1.JobPer {
	switch {
	case recorded != "":
		return recorded
	case started && sawNodeJob:
		return v1beta1.JobPerNode
	case started:
		// A ledger from before JobPer was recorded: Pod was the only way.
		return v1beta1.JobPerPod
	case s.jobPer == v1beta1.JobPerAuto && newTargets > int(s.maxPodJobs):
		return v1beta1.JobPerNode
	case s.jobPer == v1beta1.JobPerAuto:
		return v1beta1.JobPerPod
	}
	return s.jobPer
}

// jobGroups cuts targets, sorted by name, into the target lists of new Jobs:
// one each for JobPerPod, one per node (in node order) for JobPerNode.
func jobGroups(jobPer v1beta1.JobPer, targets []target) [][]target {
	if jobPer != v1beta1.JobPerNode {
		groups := make([][]target, len(targets))
		for i := range targets {
			groups[i] = targets[i : i+1]
		}
		return groups
	}
	byNode := make(map[string][]target)
	for _, t := range targets {
		byNode[t.Node] = append(byNode[t.Node], t)
	}
	groups := make([][]target, 0, len(byNode))
	for _, node := range slices.Sorted(maps.Keys(byNode)) {
		groups = append(groups, byNode[node])
	}
	return groups
}

// jobPerOfName tells how the capture Job named name for targets was cut, or
// "" when name is not what this capture (jobID) names such a Job.
func jobPerOfName(name string, targets []target, jobID string) v1beta1.JobPer {
	switch {
	case len(targets) == 0:
		return ""
	case len(targets) == 1 && name == JobName(targets[0].Name, jobID):
		return v1beta1.JobPerPod
	case name == NodeJobName(targets[0].Node, podNames(targets), jobID):
		return v1beta1.JobPerNode
	}
	return ""
}

func podNames(targets []target) []string {
	names := make([]string, len(targets))
	for i, t := range targets {
		names[i] = t.Name
	}
	return names
}

// final tells whether a capture in this phase has its outcome.
func (ph Phase) final() bool { return ph == PodSucceeded || ph == PodFailed || ph == PodGone }

// progress orders the phases of one Pod's capture: it never moves to a
// lower one.
func (ph Phase) progress() int {
	switch {
	case ph.final():
		return 4
	case ph == PodRetrievable:
		return 3
	case ph == PodRunning:
		return 2
	case ph == PodPending:
		return 1
	case ph == PodRequested:
		return 0
	}
	return -1
}

// advance is the phase of a capture recorded in the ledger as recorded and
// observed now as observed (with detail). A capture never moves back: the
// Job of a Pod-output capture shows active=1, ready=0 while its container
// stops after the retention window, which is no reason to say Running
// again; and an outcome, once recorded, stays.
func advance(recorded, observed Phase, detail string) (Phase, string) {
	if recorded == observed || recorded.progress() < observed.progress() {
		return observed, detail
	}
	return recorded, recordedDetail(recorded)
}

// recordedDetail explains a phase known only from the ledger.
func recordedDetail(ph Phase) string {
	switch ph {
	case PodRetrievable:
		return retrievableDetail
	case PodFailed:
		return "the capture failed (recorded by an earlier reconcile)"
	case PodGone:
		return "its Job disappeared before the capture's outcome was seen"
	}
	return ""
}

const retrievableDetail = "capture finished; files can be copied out of the capture Pod"

// done tells whether a capture in this phase has finished well.
func (ph Phase) done() bool { return ph == PodSucceeded || ph == PodRetrievable }

// active tells whether a capture in this phase may still be running.
func (ph Phase) active() bool {
	return ph == PodRequested || ph == PodPending || ph == PodRunning
}

// exitCodePattern finds the container exit code in the message of a Job
// condition set by its pod failure policy.
var exitCodePattern = regexp.MustCompile(`exit code (\d+)`)

// jobPhase reads a capture's phase from its Job's status.
func jobPhase(j *batchv1.Job) (Phase, string) {
	// SuccessCriteriaMet and FailureTarget come first, while the Job's Pod
	// still stops (active=1, ready=0): they are the outcome already.
	for _, c := range j.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete, batchv1.JobSuccessCriteriaMet:
			return PodSucceeded, ""
		case batchv1.JobFailed, batchv1.JobFailureTarget:
			return PodFailed, failureDetail(j, c)
		}
	}
	hasProbe := false
	for _, c := range j.Spec.Template.Spec.Containers {
		hasProbe = hasProbe || c.ReadinessProbe != nil
	}
	switch {
	case hasProbe && j.Status.Ready != nil && *j.Status.Ready > 0:
		return PodRetrievable, retrievableDetail
	case j.Status.Active > 0:
		return PodRunning, ""
	}
	return PodPending, ""
}

// exitWords names the per-Pod exit codes of a node's Job; "" for the others.
func exitWords(code int) string {
	switch code {
	case ExitPodNotFound:
		return "Pod not found on its node"
	case ExitTCPDumpFailed:
		return "tcpdump failed"
	case ExitGone:
		return "Pod went away during the capture"
	case ExitHostNetwork:
		return "Pod uses the node's network"
	}
	return ""
}

// failureDetail turns a Job's Failed condition into words for the user.
func failureDetail(j *batchv1.Job, c batchv1.JobCondition) string {
	switch c.Reason {
	case batchv1.JobReasonDeadlineExceeded:
		return fmt.Sprintf("did not finish within activeDeadlineSeconds (%d s): the capture Pod may not have started in time", ptrValue(j.Spec.ActiveDeadlineSeconds))
	case batchv1.JobReasonBackoffLimitExceeded:
		return "the capture Pod failed on every attempt; see its logs"
	}
	if m := exitCodePattern.FindStringSubmatch(c.Message); m != nil {
		code, _ := strconv.Atoi(m[1])
		if targets, _ := targetsOfJob(j); len(targets) > 1 && exitWords(code) != "" {
			// A node's Job captures its other Pods to the end and keeps
			// their files; it reports the first Pod that failed.
			return fmt.Sprintf("the capture of at least one of this node's %d target Pods failed (exit %d: %s); the others were captured: see the capture Pod's termination message",
				len(targets), code, exitWords(code))
		}
		switch code {
		case ExitBadSettings:
			return "the capture script rejected its settings (exit 2); see the capture Pod's termination message"
		case ExitPodNotFound:
			return "the target Pod's network namespace was not found on its node (exit 3): the Pod is gone or was moved"
		case ExitTCPDumpFailed:
			return "tcpdump failed (exit 4): check spec.filter and spec.interface; see the capture Pod's termination message"
		case ExitGone:
			return "the target Pod went away during the capture (exit 5): its files hold what was captured until then"
		case ExitHostNetwork:
			return "the target Pod uses the node's network namespace (exit 6): it was not captured, as that would record every Pod on the node"
		}
	}
	return strings.TrimSpace(c.Reason + ": " + c.Message)
}

// phases indexes the ledger by Pod.
func (l Ledger) phases() map[string]Phase {
	m := make(map[string]Phase)
	for _, e := range []struct {
		pods  []string
		phase Phase
	}{{l.Requested, PodRequested}, {l.Started, PodRunning}, {l.Retrievable, PodRetrievable}, {l.Succeeded, PodSucceeded}, {l.Failed, PodFailed}, {l.Gone, PodGone}} {
		for _, pod := range e.pods {
			m[pod] = e.phase
		}
	}
	return m
}

// nodesAndResults indexes the ledger's nodes and results by Pod. A result
// that does not parse is left out: it is read again from its capture Pod
// while that exists.
func (l Ledger) nodesAndResults() (map[string]string, map[string]result) {
	nodes, results := make(map[string]string), make(map[string]result)
	for node, pods := range l.Nodes {
		for pod, line := range pods {
			nodes[pod] = node
			if r, ok := parseResult(line); ok {
				results[pod] = r
			}
		}
	}
	return nodes, results
}

// status summarises the captures for the PacketCapture's status.
func status(pc PacketCapture, s settings, d *appsv1.Deployment, captures []*podCapture, skipped, notCaptured []PodStatus) (Status, string) {
	st := Status{JobID: s.jobID, Ledger: Ledger{JobID: s.jobID}, Retrieve: retrieveHint(pc, s)}
	pods := make([]PodStatus, 0, len(captures)+len(skipped)+len(notCaptured))
	for _, c := range captures {
		ps := PodStatus{Pod: c.target.Name, Node: c.target.Node, Job: c.job, Phase: c.phase, Message: c.detail, Partial: c.partial}
		if c.target.Node != "" {
			if st.Ledger.Nodes == nil {
				st.Ledger.Nodes = make(map[string]map[string]string)
			}
			if st.Ledger.Nodes[c.target.Node] == nil {
				st.Ledger.Nodes[c.target.Node] = make(map[string]string)
			}
			line := ""
			if c.result != nil {
				line = c.result.String()
			}
			st.Ledger.Nodes[c.target.Node][c.target.Name] = line
		}
		if r := c.result; r != nil {
			ps.Packets, ps.Bytes, ps.Dropped, ps.Files = ptrTo(r.packets), ptrTo(r.bytes), ptrTo(r.dropped), ptrTo(r.files)
			st.Counts.Packets += r.packets
			st.Counts.Bytes += r.bytes
			st.Counts.Dropped += r.dropped
			st.Counts.Files += r.files
		}
		if c.partial {
			st.Counts.Partial++
		}
		pods = append(pods, ps)
		switch {
		case c.phase == PodRequested:
			st.Ledger.Requested = append(st.Ledger.Requested, c.target.Name)
			st.Counts.Active++
		case c.phase.active():
			st.Ledger.Started = append(st.Ledger.Started, c.target.Name)
			st.Counts.Active++
		case c.phase == PodRetrievable:
			st.Ledger.Retrievable = append(st.Ledger.Retrievable, c.target.Name)
			st.Counts.Succeeded++
		case c.phase == PodSucceeded:
			st.Ledger.Succeeded = append(st.Ledger.Succeeded, c.target.Name)
			st.Counts.Succeeded++
		case c.phase == PodFailed:
			st.Ledger.Failed = append(st.Ledger.Failed, c.target.Name)
			st.Counts.Failed++
		case c.phase == PodGone:
			st.Ledger.Gone = append(st.Ledger.Gone, c.target.Name)
			st.Counts.Gone++
		}
	}
	st.Counts.Targets = len(captures)
	st.Counts.Nodes = len(st.Ledger.Nodes)
	st.Counts.Skipped = len(skipped)
	st.Counts.NotCaptured = len(notCaptured)
	pods = append(append(pods, skipped...), notCaptured...)

	// Problems first, then by Pod: what a user must look at survives the bound.
	slices.SortStableFunc(pods, func(a, b PodStatus) int {
		return cmp.Or(cmp.Compare(a.Phase.rank(), b.Phase.rank()), cmp.Compare(a.Pod, b.Pod))
	})
	if limit := int(s.statusPodLimit); len(pods) > limit {
		st.PodsOmitted = len(pods) - limit
		pods = pods[:limit]
	}
	st.Pods = pods

	c := st.Counts
	duration := fmt.Sprintf("%ds", s.durationSeconds)
	// The headline changes only with the phase and the number of Pods and
	// nodes; the details (progress, totals) change as each Pod's capture
	// moves on.
	var headline, details string
	switch {
	case c.Targets == 0 && d == nil:
		st.Phase = PhaseWaitingForDeployment
		headline = fmt.Sprintf("waiting for Deployment %s/%s", pc.Spec.TargetNamespace, pc.Spec.TargetDeployment)
	case c.Targets == 0 && d.Spec.Replicas != nil && *d.Spec.Replicas == 0:
		st.Phase = PhaseWaitingForPods
		headline = fmt.Sprintf("Deployment %s/%s is scaled to 0 (replicas: 0): nothing to capture until it is scaled up", pc.Spec.TargetNamespace, pc.Spec.TargetDeployment)
	case c.Targets == 0:
		st.Phase = PhaseWaitingForPods
		headline = fmt.Sprintf("waiting for running Pods of Deployment %s/%s", pc.Spec.TargetNamespace, pc.Spec.TargetDeployment)
		details = fmt.Sprintf(" (%d skipped)", c.Skipped)
	case c.Active > 0:
		st.Phase = PhaseCapturing
		headline = fmt.Sprintf("capturing %s on %s for %s", plural(c.Targets, "Pod"), plural(c.Nodes, "node"), duration)
		details = fmt.Sprintf(": %d active, %d succeeded, %d failed", c.Active, c.Succeeded, c.Failed+c.Gone)
	case c.Failed+c.Gone > 0:
		st.Phase = PhaseFailed
		headline = fmt.Sprintf("%d of %d captures failed or were lost", c.Failed+c.Gone, c.Targets)
		if c.Partial > 0 {
			details = fmt.Sprintf(" (%d partial: their files hold less than %s)", c.Partial, duration)
		}
		details += fmt.Sprintf("; %d succeeded", c.Succeeded) + totals(c)
	default:
		st.Phase = PhaseCompleted
		headline = fmt.Sprintf("captured %s on %s for %s", plural(c.Targets, "Pod"), plural(c.Nodes, "node"), duration)
		details = totals(c)
	}
	st.Message = headline + details
	return st, headline
}

// totals says what the summaries read so far add up to, or nothing before
// the first.
func totals(c Counts) string {
	if c.Files == 0 && c.Packets == 0 {
		return ""
	}
	return fmt.Sprintf(": %s, %d bytes in %s, %d dropped by the kernel", plural(int(c.Packets), "packet"), c.Bytes, plural(int(c.Files), "file"), c.Dropped)
}

// rank orders Pod phases for the bounded status list: problems first.
func (ph Phase) rank() int {
	return slices.Index([]Phase{PodFailed, PodGone, PodSkipped, PodNotCaptured, PodRequested, PodPending, PodRunning, PodRetrievable, PodSucceeded}, ph)
}

// summaryEvents tell the user, in a few lines, what this plan does.
func summaryEvents(st Status, skipped, notCaptured []PodStatus, drifted []string, kept int) []Event {
	severity := SeverityNormal
	if st.Phase == PhaseFailed || st.Phase == PhaseWaitingForPods || st.Phase == PhaseWaitingForDeployment {
		severity = SeverityWarning
	}
	events := []Event{{Severity: severity, Reason: string(st.Phase), Message: st.Message}}
	if len(skipped) > 0 {
		names := make([]string, len(skipped))
		for i, p := range skipped {
			names[i] = fmt.Sprintf("%.80q (%s)", p.Pod, p.Message)
		}
		events = append(events, Event{Severity: SeverityWarning, Reason: "PodsSkipped",
			Message: nameList("Pod", names) + " not captured now"})
	}
	if len(notCaptured) > 0 {
		names := make([]string, len(notCaptured))
		for i, p := range notCaptured {
			names[i] = fmt.Sprintf("%.80q", p.Pod)
		}
		events = append(events, Event{Severity: SeverityNormal, Reason: "NewPodsNotCaptured", Field: "spec.followNewPods",
			Message: nameList("Pod", names) + " appeared after the capture started and " + isAre(len(names)) + " not captured; set spec.followNewPods: true to capture new Pods"})
	}
	if len(drifted) > 0 {
		events = append(events, Event{Severity: SeverityWarning, Reason: "SpecChangedDuringCapture", Field: "spec.jobId",
			Message: fmt.Sprintf("the spec or the function's Input changed after the capture started; the Jobs of %s keep their original settings (a Job's pod template cannot change). Set a new spec.jobId to capture again with the new settings", nameList("Pod", quoted(drifted)))})
	}
	if kept > 0 {
		events = append(events, Event{Severity: SeverityNormal, Reason: "EarlierJobsKept",
			Message: fmt.Sprintf("keeping %s of an earlier jobId until they finish and expire", plural(kept, "Job"))})
	}
	return events
}

// retrieveHint says how to fetch the PCAP files: with the kubectl plugin,
// which handles every output and checks what it copies, or by hand.
func retrieveHint(pc PacketCapture, s settings) string {
	plugin := fmt.Sprintf("kubectl packetcapture fetch %s -n %s", pc.Name, pc.Namespace)
	switch s.output.Type {
	case v1beta1.OutputHostPath:
		return fmt.Sprintf("%s; without the plugin: files are in %s on each captured Pod's node, e.g. kubectl debug node/<node> -it --image=busybox -- ls /host%s", plugin, s.output.HostPath, s.output.HostPath)
	case v1beta1.OutputPersistentVolumeClaim:
		return fmt.Sprintf("%s; without the plugin: files are in PersistentVolumeClaim %s/%s; mount it in a Pod to copy them out", plugin, pc.Namespace, s.output.ClaimName)
	default:
		// Only a Running, Ready capture Pod can be copied from: ready means
		// its files are closed, and kubectl cp cannot exec into a Pod that
		// has ended. The subshell with set -e stops at the first failure,
		// without closing the user's shell.
		return fmt.Sprintf("%s (each capture Pod keeps its files for %d s after its capture ends); without the plugin: "+
			"( set -e; n=0; for p in $(kubectl -n %s get pod -l %s=%s --field-selector=status.phase=Running -o jsonpath='{range .items[*]}{.metadata.name}={.status.conditions[?(@.type==\"Ready\")].status} {end}'); "+
			"do case $p in *=True) p=${p%%=True}; mkdir -p pcap; kubectl -n %s cp \"$p:%s\" \"./pcap/$p\"; n=$((n+1));; esac; done; "+
			"[ $n -gt 0 ] || { echo 'no Running, Ready capture Pod: see status.pods' >&2; exit 1; } )",
			plugin, *s.output.RetentionSeconds, pc.Namespace, LabelCapture, LabelValue(pc.Name), pc.Namespace, OutputMountPath)
	}
}

// nameList names a few things and counts the rest, to keep messages short
// for Deployments of thousands of Pods.
func nameList(kind string, names []string) string {
	const shown = 5
	if len(names) == 1 {
		return kind + " " + names[0]
	}
	if len(names) <= shown {
		return kind + "s " + strings.Join(names, ", ")
	}
	return fmt.Sprintf("%ss %s and %d more", kind, strings.Join(names[:shown], ", "), len(names)-shown)
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

func ptrValue[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
