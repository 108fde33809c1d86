package validate

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/function-packet-capture/function-packet-capture/capture"
)

// TestXRDDescribesStatus: every field the function writes to the status is
// in the XRD's status schema. The API server prunes a field the schema does
// not know, so a missing ledger field would be forgotten between reconciles
// and the status would move backwards.
func TestXRDDescribesStatus(t *testing.T) {
	xrds := readYAML(t, filepath.Join(repoRoot(t), "example", "xrd.yaml"))
	versions, _ := field(xrds[0], "spec", "versions").([]any)
	if len(versions) == 0 {
		t.Fatal("example/xrd.yaml has no spec.versions")
	}
	status := field(versions[0], "schema", "openAPIV3Schema", "properties", "status")
	if status == nil {
		t.Fatal("example/xrd.yaml has no status schema")
	}
	var missing []string
	var walk func(typ reflect.Type, schema any, path string)
	walk = func(typ reflect.Type, schema any, path string) {
		for typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		switch typ.Kind() {
		case reflect.Struct:
			for i := range typ.NumField() {
				name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
				if name == "" || name == "-" {
					continue
				}
				sub := field(schema, "properties", name)
				if sub == nil {
					missing = append(missing, path+"."+name)
					continue
				}
				walk(typ.Field(i).Type, sub, path+"."+name)
			}
		case reflect.Slice:
			if typ.Elem().Kind() == reflect.Struct {
				walk(typ.Elem(), field(schema, "items"), path+"[]")
			}
		case reflect.Map:
			sub := field(schema, "additionalProperties")
			if sub == nil {
				missing = append(missing, path+".*")
				return
			}
			walk(typ.Elem(), sub, path+".*")
		}
	}
	walk(reflect.TypeFor[capture.Status](), status, "status")
	for _, m := range missing {
		t.Errorf("%s is written by the function but not in example/xrd.yaml's schema: the API server would prune it", m)
	}
}
