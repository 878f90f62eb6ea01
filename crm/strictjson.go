package crm

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// DecodeStrict decodes the JSON document data into v, the one strict
// decoder every rule, policy and model loader uses. It refuses, as
// [ValidationErrors] whose fields are JSON paths such as
// "fit.groups[0].rules[1].points":
//
//   - invalid JSON, and anything after the first JSON value;
//   - a key repeated in one object ({"effect":"deny","effect":"allow"}),
//     which encoding/json would silently resolve to the last value;
//   - every key that names no field of v's type (reported all at once);
//   - a value of the wrong JSON type, naming the field it hit.
//
// Types that implement json.Unmarshaler check their own form. Reflection
// runs here, when rules load, never on a decision path.
func DecodeStrict(data []byte, v any) error {
	if err := checkSyntaxAndKeys(data); err != nil {
		return ValidationErrors{err}
	}
	var tree any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&tree); err != nil {
		return ValidationErrors{jsonError(err)}
	}
	var errs ValidationErrors
	checkFields("", tree, reflect.TypeOf(v), &errs)
	if len(errs) > 0 {
		return errs
	}
	dec = json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			return ValidationErrors{ve} // from a type's own UnmarshalJSON
		}
		return ValidationErrors{jsonError(err)}
	}
	return nil
}

// checkSyntaxAndKeys walks data's tokens once: it reports invalid JSON,
// trailing data and the first repeated key with its path.
func checkSyntaxAndKeys(data []byte) *ValidationError {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := walkValue(dec, "", 0); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return Invalid("", "trailing data after the JSON value")
	}
	return nil
}

// MaxJSONDepth is how deeply [DecodeStrict] lets objects and arrays nest.
// No rule document comes near it; a deeper one is refused before it can
// exhaust the stack.
const MaxJSONDepth = 200

func walkValue(dec *json.Decoder, path string, depth int) *ValidationError {
	tok, err := dec.Token()
	if err != nil {
		return jsonErrorAt(path, err)
	}
	if d, ok := tok.(json.Delim); ok && (d == '{' || d == '[') && depth >= MaxJSONDepth {
		return Invalid(path, "nested more than %d levels deep", MaxJSONDepth)
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return jsonErrorAt(path, err)
			}
			key, _ := kt.(string)
			p := joinJSONPath(path, key)
			if seen[key] {
				return Invalid(p, "key repeated in one object; JSON keys must be unique")
			}
			seen[key] = true
			if err := walkValue(dec, p, depth+1); err != nil {
				return err
			}
		}
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			if err := walkValue(dec, path+"["+strconv.Itoa(i)+"]", depth+1); err != nil {
				return err
			}
		}
	default:
		return nil
	}
	if _, err := dec.Token(); err != nil { // the closing delimiter
		return jsonErrorAt(path, err)
	}
	return nil
}

func jsonError(err error) *ValidationError { return jsonErrorAt("", err) }

// jsonErrorAt describes a decoding error; syntax errors are placed at
// path, the value being read when the input went wrong. NaN and infinite
// numbers, which JSON cannot hold, are syntax errors.
func jsonErrorAt(path string, err error) *ValidationError {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return Invalid(te.Field, "want a JSON value for Go type %s, got a JSON %s", te.Type, te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return Invalid(path, "not valid JSON at byte %d: %v (JSON numbers are finite: no NaN or Infinity)", se.Offset, se)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return Invalid("", "not valid JSON: unexpected end of input") // the document is cut short
	}
	return Invalid(path, "not valid JSON: %v", err)
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// checkFields reports every key of v (the decoded tree) that names no
// field of t.
func checkFields(path string, v any, t reflect.Type, errs *ValidationErrors) {
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
			return // a type mismatch, reported by the final decode
		}
		fields := map[string]reflect.Type{}
		jsonFields(t, fields)
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			ft, ok := fields[k]
			if !ok {
				*errs = append(*errs, Invalid(joinJSONPath(path, k), "unknown field"))
				continue
			}
			checkFields(joinJSONPath(path, k), obj[k], ft, errs)
		}
	case reflect.Slice, reflect.Array:
		arr, ok := v.([]any)
		if !ok {
			return
		}
		for i, e := range arr {
			checkFields(path+"["+strconv.Itoa(i)+"]", e, t.Elem(), errs)
		}
	case reflect.Map:
		obj, ok := v.(map[string]any)
		if !ok {
			return
		}
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			checkFields(joinJSONPath(path, k), obj[k], t.Elem(), errs)
		}
	}
}

// jsonFields adds the JSON names of t's fields to out, with the fields of
// embedded structs promoted as encoding/json promotes them (a field of
// the outer struct wins over a promoted one of the same name).
func jsonFields(t reflect.Type, out map[string]reflect.Type) {
	var embedded []reflect.Type
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			embedded = append(embedded, ft)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	for _, et := range embedded {
		promoted := map[string]reflect.Type{}
		jsonFields(et, promoted)
		for name, ft := range promoted {
			if _, taken := out[name]; !taken {
				out[name] = ft
			}
		}
	}
}

func joinJSONPath(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}
