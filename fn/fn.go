// Package fn is the Crossplane adapter of function-packet-capture: it turns a
// RunFunctionRequest into the planner's values and the plan back into a
// RunFunctionResponse.
package fn

import (
	"context"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/crossplane/function-sdk-go/errors"
	"github.com/crossplane/function-sdk-go/logging"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"github.com/crossplane/function-sdk-go/request"
	"github.com/crossplane/function-sdk-go/resource"
	"github.com/crossplane/function-sdk-go/resource/composed"
	"github.com/crossplane/function-sdk-go/response"

	"github.com/function-packet-capture/function-packet-capture/capture"
)

// Names of the resources this function asks Crossplane for.
const (
	RequirementDeployment  = "target-deployment"
	RequirementReplicaSets = "target-replicasets"
	RequirementPods        = "target-pods"
	RequirementClaim       = "claim"
	// RequirementCapturePods are the capture's own Pods, whose termination
	// messages hold the capture summaries.
	RequirementCapturePods = "capture-pods"
)

// Names of the composed resources, as Crossplane tracks them.
const (
	ConfigMapResource = "packet-capture-config"
	jobResourcePrefix = "job-"
)

// SummaryRecheck is how soon Crossplane calls again while a finished Job
// is held for its capture Pod's summary: the response's TTL, after which a
// realtime composition reconciles.
const SummaryRecheck = 5 * time.Second

// ConditionCaptured is the XR condition that tells how the capture is going.
const ConditionCaptured = "Captured"

// Function captures the packets of a Deployment's Pods.
type Function struct {
	fnv1.UnimplementedFunctionRunnerServiceServer

	log logging.Logger
	// maxResponseBytes is the largest response sent: a larger one is
	// refused with a Fatal result. MaxResponseBytes but in benchmarks.
	maxResponseBytes int
}

// NewFunction returns a Function that logs to log.
func NewFunction(log logging.Logger) *Function {
	return &Function{log: log, maxResponseBytes: MaxResponseBytes}
}

// RunFunction plans the capture Jobs of a PacketCapture.
func (f *Function) RunFunction(ctx context.Context, req *fnv1.RunFunctionRequest) (*fnv1.RunFunctionResponse, error) {
	rsp := response.To(req, response.DefaultTTL)

	in, err := capture.DecodeInput(req.GetInput().AsMap(), field.NewPath("input"))
	if err != nil {
		response.Fatal(rsp, err)
		return rsp, nil
	}
	oxr, err := request.GetObservedCompositeResource(req)
	if err != nil {
		response.Fatal(rsp, errors.Wrap(err, "cannot read the observed PacketCapture"))
		return rsp, nil
	}
	pc, err := capture.DecodePacketCapture(oxr.Resource.Object)
	if err != nil {
		response.Fatal(rsp, err)
		return rsp, nil
	}
	if err := capture.Validate(pc, in); err != nil {
		response.Fatal(rsp, err)
		return rsp, nil
	}
	log := f.log.WithValues("xr", pc.Namespace+"/"+pc.Name, "target", pc.Spec.TargetNamespace+"/"+pc.Spec.TargetDeployment)

	targets, complete, err := requireTargets(req, rsp, pc.Spec)
	if err != nil {
		response.Fatal(rsp, err)
		return rsp, nil
	}
	capturePods, found, err := requireCapturePods(req, rsp, pc)
	if err != nil {
		response.Fatal(rsp, err)
		return rsp, nil
	}
	complete = complete && found
	// Crossplane does not copy a claim's *.kubernetes.io labels to its XR
	// (claim/syncer_ssa.go, withoutReservedK8sEntries): ask for the claim
	// and take its app.kubernetes.io labels from there.
	if ref, ok, _ := unstructured.NestedStringMap(oxr.Resource.Object, "spec", "claimRef"); ok && ref["name"] != "" {
		ns := ref["namespace"]
		rsp.Requirements.Resources[RequirementClaim] = &fnv1.ResourceSelector{ApiVersion: ref["apiVersion"], Kind: ref["kind"], Namespace: &ns,
			Match: &fnv1.ResourceSelector_MatchName{MatchName: ref["name"]}}
		claims, found, err := request.GetRequiredResource(req, RequirementClaim)
		if err != nil {
			response.Fatal(rsp, errors.Wrap(err, "cannot read the required claim"))
			return rsp, nil
		}
		complete = complete && found
		for _, c := range claims {
			for k, v := range c.Resource.GetLabels() {
				if strings.HasPrefix(k, "app.kubernetes.io/") {
					if pc.Labels == nil {
						pc.Labels = map[string]string{}
					}
					pc.Labels[k] = v
				}
			}
		}
	}
	if !complete {
		// Crossplane calls again with what was asked for.
		log.Debug("Asking for the target Deployment and its Pods")
		return rsp, nil
	}
	jobs, err := observedJobs(req)
	if err != nil {
		response.Fatal(rsp, err)
		return rsp, nil
	}
	releaseDecoded(ctx, req)
	targets.Capture, targets.Input, targets.Jobs, targets.CapturePods = pc, in, jobs, capturePods
	digest := newInputDigest(oxr.Resource.GetResourceVersion(), targets)

	plan, err := capture.Plan(targets)
	if err != nil {
		response.Fatal(rsp, err)
		return rsp, nil
	}
	if plan.AwaitingSummaries {
		// A finished Job waits for its capture Pod's summary; capture
		// Pods are not composed resources, so no watch calls again.
		rsp.Meta.Ttl = durationpb.New(SummaryRecheck)
	}
	if err := writeDesired(req, rsp, plan); err != nil {
		response.Fatal(rsp, err)
		return rsp, nil
	}
	for _, e := range plan.Events {
		var r *response.ResultOption
		if e.Severity == capture.SeverityWarning {
			r = response.Warning(rsp, errors.New(e.Message))
		} else {
			r = response.Normal(rsp, e.Message)
		}
		r.WithReason(e.Reason).TargetCompositeAndClaim()
	}
	cond := response.ConditionFalse
	if plan.Ready {
		cond = response.ConditionTrue
	}
	// The condition carries the headline, status.message the progress: a
	// condition that changes with every Pod's progress costs Crossplane two
	// XR writes each time (Desired.Headline).
	cond(rsp, ConditionCaptured, string(plan.Status.Phase)).WithMessage(plan.Headline).TargetCompositeAndClaim()
	if err := checkResponseSize(rsp, len(plan.Jobs), f.maxResponseBytes); err != nil {
		// Crossplane could not receive it: say why instead.
		tooLarge := response.To(req, response.DefaultTTL)
		tooLarge.Requirements = rsp.Requirements
		response.Fatal(tooLarge, err)
		return tooLarge, nil
	}
	log.Debug("Planned capture", "jobs", len(plan.Jobs), "phase", plan.Status.Phase, "message", plan.Status.Message, "awaitingSummaries", plan.AwaitingSummaries, "from", digest)
	return rsp, nil
}

// requireTargets asks Crossplane for the target Deployment and, once it is
// known, for the ReplicaSets and Pods its selector's labels match, and
// decodes what Crossplane sent. It reports whether everything asked for has
// arrived. Asking is deterministic: the same Deployment gives the same
// requirements, so Crossplane's requirement loop settles.
func requireTargets(req *fnv1.RunFunctionRequest, rsp *fnv1.RunFunctionResponse, spec capture.Spec) (capture.Request, bool, error) {
	var out capture.Request
	ns := spec.TargetNamespace
	rsp.Requirements = &fnv1.Requirements{Resources: map[string]*fnv1.ResourceSelector{
		RequirementDeployment: {
			ApiVersion: "apps/v1", Kind: "Deployment", Namespace: &ns,
			Match: &fnv1.ResourceSelector_MatchName{MatchName: spec.TargetDeployment},
		},
	}}
	if spec.TargetNamespace == "" || spec.TargetDeployment == "" {
		// Nothing to ask for; the planner reports the missing field.
		delete(rsp.Requirements.Resources, RequirementDeployment)
		return out, true, nil
	}
	found, ok, err := request.GetRequiredResource(req, RequirementDeployment)
	if err != nil {
		return out, false, errors.Wrap(err, "cannot read the required Deployment")
	}
	if !ok {
		return out, false, nil
	}
	for _, r := range found {
		// Crossplane render matches by name only: check the namespace too.
		if r.Resource.GetName() != spec.TargetDeployment || !capture.InNamespace(r.Resource.GetNamespace(), ns) {
			continue
		}
		d, err := capture.DecodeObject[appsv1.Deployment](r.Resource.Object)
		if err != nil {
			return out, false, errors.Wrapf(err, "cannot read Deployment %s/%s", ns, spec.TargetDeployment)
		}
		out.Deployment = d
	}
	if out.Deployment == nil {
		return out, true, nil
	}

	// Ask by the selector's matchLabels; a selector of matchExpressions only
	// asks for the whole namespace. The planner applies the whole selector.
	selector := func(apiVersion, kind string) *fnv1.ResourceSelector {
		s := &fnv1.ResourceSelector{ApiVersion: apiVersion, Kind: kind, Namespace: &ns}
		if sel := out.Deployment.Spec.Selector; sel != nil && len(sel.MatchLabels) > 0 {
			s.Match = &fnv1.ResourceSelector_MatchLabels{MatchLabels: &fnv1.MatchLabels{Labels: sel.MatchLabels}}
		}
		return s
	}
	rsp.Requirements.Resources[RequirementReplicaSets] = selector("apps/v1", "ReplicaSet")
	rsp.Requirements.Resources[RequirementPods] = selector("v1", "Pod")

	// Not request.GetRequiredResource: see decodeRequired.
	rss, rssOK := req.GetRequiredResources()[RequirementReplicaSets]
	pods, podsOK := req.GetRequiredResources()[RequirementPods]
	if !rssOK || !podsOK {
		return out, false, nil
	}
	if out.ReplicaSets, err = decodeRequired[appsv1.ReplicaSet](rss.GetItems(), "ReplicaSet", ns); err != nil {
		return out, false, err
	}
	if out.Pods, err = decodeRequired[corev1.Pod](pods.GetItems(), "Pod", ns); err != nil {
		return out, false, err
	}
	return out, true, nil
}

// requireCapturePods asks Crossplane for the capture's own Pods (by the
// label every capture Pod carries, in the capture's namespace) and decodes
// what Crossplane sent. They are few (one or two per capture Job) and the
// planner reads their termination messages: they are converted whole.
func requireCapturePods(req *fnv1.RunFunctionRequest, rsp *fnv1.RunFunctionResponse, pc capture.PacketCapture) ([]corev1.Pod, bool, error) {
	ns := pc.Namespace
	if ns == "" || pc.Name == "" {
		// Nowhere to look; the capture's Jobs cannot exist either.
		return nil, true, nil
	}
	rsp.Requirements.Resources[RequirementCapturePods] = &fnv1.ResourceSelector{
		ApiVersion: "v1", Kind: "Pod", Namespace: &ns,
		Match: &fnv1.ResourceSelector_MatchLabels{MatchLabels: &fnv1.MatchLabels{
			Labels: map[string]string{capture.LabelCapture: capture.LabelValue(pc.Name)},
		}},
	}
	found, ok, err := request.GetRequiredResource(req, RequirementCapturePods)
	if err != nil || !ok {
		return nil, false, errors.Wrap(err, "cannot read the required capture Pods")
	}
	pods := make([]corev1.Pod, 0, len(found))
	for _, r := range found {
		// Crossplane render matches by labels only: the planner checks the
		// namespace.
		p, err := capture.DecodeObject[corev1.Pod](r.Resource.Object)
		if err != nil {
			return nil, false, errors.Wrapf(err, "cannot read capture Pod %s/%s", ns, r.Resource.GetName())
		}
		pods = append(pods, *p)
	}
	return pods, true, nil
}

// observedJobs are the capture Jobs that exist.
func observedJobs(req *fnv1.RunFunctionRequest) ([]batchv1.Job, error) {
	var jobs []batchv1.Job
	for name, r := range req.GetObserved().GetResources() {
		o := r.GetResource()
		if o.GetFields()["kind"].GetStringValue() != "Job" || o.GetFields()["apiVersion"].GetStringValue() != "batch/v1" {
			continue
		}
		j, err := capture.DecodeObject[batchv1.Job](o.AsMap())
		if err != nil {
			return nil, errors.Wrapf(err, "cannot read observed Job %q", name)
		}
		jobs = append(jobs, *j)
	}
	return jobs, nil
}

// writeDesired adds the plan's ConfigMap and Jobs to the desired composed
// resources (keeping those of earlier pipeline steps) and its status to the
// desired XR.
func writeDesired(req *fnv1.RunFunctionRequest, rsp *fnv1.RunFunctionResponse, plan *capture.Desired) error {
	// A State of the response's own: response.To shares the request's, and a
	// refusal (checkResponseSize) answers with the request's desired state,
	// which must still be what the earlier pipeline steps left.
	rsp.Desired = &fnv1.State{}

	// The status first: the garbage of its conversion goes before the
	// Jobs' Structs pile up (fn/limits.go).
	dxr, err := request.GetDesiredCompositeResource(req)
	if err != nil {
		return errors.Wrap(err, "cannot read the desired PacketCapture")
	}
	st, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&plan.Status)
	if err != nil {
		return errors.Wrap(err, "cannot encode the PacketCapture's status")
	}
	for k, v := range st {
		if err := dxr.Resource.SetValue("status."+k, v); err != nil {
			return errors.Wrapf(err, "cannot set status.%s", k)
		}
	}
	dxr.Ready = resource.ReadyFalse
	if plan.Ready {
		dxr.Ready = resource.ReadyTrue
	}
	if err := response.SetDesiredCompositeResource(rsp, dxr); err != nil {
		return errors.Wrap(err, "cannot set the desired PacketCapture")
	}

	desired, err := request.GetDesiredComposedResources(req)
	if err != nil {
		return errors.Wrap(err, "cannot read the desired composed resources")
	}
	if desired[ConfigMapResource], err = desiredComposed(plan.ConfigMap, true); err != nil {
		return errors.Wrap(err, "cannot encode the ConfigMap")
	}
	if err := response.SetDesiredComposedResources(rsp, desired); err != nil {
		return errors.Wrap(err, "cannot set the desired composed resources")
	}
	// The Jobs one at a time: each one's unstructured form is garbage as soon
	// as it is in the response, and so is the Job (fn/limits.go).
	for i, j := range plan.Jobs {
		dc, err := desiredComposed(j.Job, j.Ready)
		if err != nil {
			return errors.Wrapf(err, "cannot encode Job %s", j.Job.Name)
		}
		if err := response.SetDesiredComposedResources(rsp, map[resource.Name]*resource.DesiredComposed{resource.Name(jobResourcePrefix + j.Job.Name): dc}); err != nil {
			return errors.Wrapf(err, "cannot set Job %s", j.Job.Name)
		}
		plan.Jobs[i].Job = nil
	}
	return nil
}

// desiredComposed is a planned object as a desired composed resource.
func desiredComposed(o runtime.Object, ready bool) (*resource.DesiredComposed, error) {
	m, err := capture.EncodeObject(o)
	if err != nil {
		return nil, err
	}
	dc := &resource.DesiredComposed{Resource: &composed.Unstructured{Unstructured: unstructured.Unstructured{Object: m}}, Ready: resource.ReadyFalse}
	if ready {
		dc.Ready = resource.ReadyTrue
	}
	return dc, nil
}
