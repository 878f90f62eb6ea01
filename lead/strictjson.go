package lead

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/crmkit/crmkit/crm"
)

// decodeStrict decodes JSON data into v, refusing unknown fields. Unlike
// encoding/json's DisallowUnknownFields it reports every unknown field with
// its full path ("fit.groups[0].rules[1].pionts"), and type errors with the
// field they hit, as [crm.ValidationErrors]. Reflection runs here, on load,
// never on a scoring path.
func decodeStrict(data []byte, v any) error {
	var tree any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&tree); err != nil {
		return crm.ValidationErrors{jsonError(err)}
	}
	if dec.More() {
		return crm.ValidationErrors{crm.Invalid("", "trailing data after the JSON value")}
	}
	var errs crm.ValidationErrors
	checkKeys("", tree, reflect.TypeOf(v), &errs)
	if len(errs) > 0 {
		return errs
	}
	dec = json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return crm.ValidationErrors{jsonError(err)}
	}
	return nil
}

func jsonError(err error) *crm.ValidationError {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return crm.Invalid(te.Field, "want a JSON value for Go type %s, got a JSON %s", te.Type, te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return crm.Invalid("", "not valid JSON at byte %d: %v", se.Offset, se)
	}
	return crm.Invalid("", "not valid JSON: %v", err)
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

func checkKeys(path string, v any, t reflect.Type, errs *crm.ValidationErrors) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return // the type checks its own form
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return // a type mismatch, reported by the second decode
		}
		fields := jsonFields(t)
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			ft, ok := fields[k]
			if !ok {
				*errs = append(*errs, crm.Invalid(joinPath(path, k), "unknown field"))
				continue
			}
			checkKeys(joinPath(path, k), obj[k], ft, errs)
		}
	case reflect.Slice, reflect.Array:
		arr, ok := v.([]any)
		if !ok {
			return
		}
		for i, e := range arr {
			checkKeys(path+"["+strconv.Itoa(i)+"]", e, t.Elem(), errs)
		}
	case reflect.Map:
		obj, ok := v.(map[string]any)
		if !ok {
			return
		}
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			checkKeys(joinPath(path, k), obj[k], t.Elem(), errs)
		}
	}
}

func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := make(map[string]reflect.Type, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

func joinPath(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func idx(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }
