package retrieve

import (
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// forbidden turns an API server's 403 into a message naming the verb and
// resource the user's RBAC lacks, and how to check it; other errors are
// wrapped with what was tried.
func forbidden(err error, verb, resource, ns string) error {
	if err == nil {
		return nil
	}
	where, flag := "", ""
	if ns != "" {
		where, flag = " in namespace "+ns, " -n "+ns
	}
	if apierrors.IsForbidden(err) {
		return fmt.Errorf("not allowed to %s %s%s: your RBAC needs verb %q on resource %q (check with: kubectl auth can-i %s %s%s): %w",
			verb, resource, where, verb, resource, verb, resource, flag, err)
	}
	return fmt.Errorf("%s %s%s: %w", verb, resource, where, err)
}
