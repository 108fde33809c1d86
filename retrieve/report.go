package retrieve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// WriteTable prints one row per source: Pod, node, packets, bytes, drops,
// files, verified. Packets and drops are the capture's own counts.
func WriteTable(w io.Writer, results []*Result) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "POD\tNODE\tPACKETS\tBYTES\tDROPS\tFILES\tVERIFIED")
	for _, r := range results {
		v := r.Verification
		packets, drops := "-", "-"
		if r.Source.Summary != nil {
			packets, drops = strconv.FormatInt(r.Source.Summary.Packets, 10), strconv.FormatInt(r.Source.Summary.Dropped, 10)
		}
		node := r.Source.Node
		if node == "" {
			node = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%d\t%s\n", r.Source.Name, node, packets, v.Bytes, drops, v.Files, Verified(r))
	}
	return tw.Flush()
}

// Verified is the table's verdict on one source: gone, failed, MISMATCH,
// no summary (nothing to check against), or what was checked.
func Verified(r *Result) string {
	switch {
	case errors.Is(r.Err, ErrGone):
		return "gone"
	case r.Err != nil:
		return "failed"
	case !r.Verification.OK():
		return "MISMATCH"
	case r.Verification.Checked == "":
		return "no summary"
	}
	return "yes (" + r.Verification.Checked + ")"
}

// Problems is every reason a fetch did not fully succeed, one line each.
func Problems(results []*Result) []string {
	var out []string
	for _, r := range results {
		if r.Err != nil {
			out = append(out, fmt.Sprintf("%s: %v", r.Source.Name, r.Err))
		}
		for _, p := range r.Verification.Problems {
			out = append(out, fmt.Sprintf("%s: %s", r.Source.Name, p))
		}
	}
	return out
}

// Listed is one PacketCapture as list shows it.
type Listed struct {
	Namespace, Name, Phase, JobID string
	// Counts are status.counts, by field name.
	Counts map[string]int64
}

// List reads the PacketCaptures of ns ("" for every namespace).
func (c *Client) List(ctx context.Context, ns string) ([]Listed, error) {
	list, err := c.Dynamic.Resource(PacketCaptures).Namespace(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, errAPINotServed
		}
		return nil, forbidden(err, "list", PacketCaptures.GroupResource().String(), ns)
	}
	var out []Listed
	for _, u := range list.Items {
		l := Listed{Namespace: u.GetNamespace(), Name: u.GetName(), Counts: map[string]int64{}}
		l.Phase, _, _ = unstructured.NestedString(u.Object, "status", "phase")
		l.JobID, _, _ = unstructured.NestedString(u.Object, "status", "jobId")
		counts, _, _ := unstructured.NestedMap(u.Object, "status", "counts")
		for k, v := range counts {
			switch n := v.(type) {
			case int64:
				l.Counts[k] = n
			case float64:
				l.Counts[k] = int64(n)
			}
		}
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// listColumns are the status.counts shown by list, in order; a count the
// capture does not report shows as "-".
var listColumns = []string{"targets", "active", "succeeded", "failed", "gone", "packets", "bytes", "dropped"}

// WriteList prints captures as a table.
func WriteList(w io.Writer, captures []Listed, allNamespaces bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	head := []string{"NAME", "PHASE", "JOB-ID"}
	if allNamespaces {
		head = append([]string{"NAMESPACE"}, head...)
	}
	for _, c := range listColumns {
		head = append(head, strings.ToUpper(c))
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, l := range captures {
		row := []string{l.Name, orDash(l.Phase), orDash(l.JobID)}
		if allNamespaces {
			row = append([]string{l.Namespace}, row...)
		}
		for _, c := range listColumns {
			if n, ok := l.Counts[c]; ok {
				row = append(row, strconv.FormatInt(n, 10))
			} else {
				row = append(row, "-")
			}
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
