package storetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"time"
)

var (
	timeType    = reflect.TypeFor[time.Time]()
	rawJSONType = reflect.TypeFor[json.RawMessage]()
	boolType    = reflect.TypeFor[bool]()
)

// Diff compares a record as a storage adapter returned it (got) with the
// record the caller expects (want) under storage semantics, and returns one
// line per difference; nil means equal. The rules are those every adapter
// must keep:
//
//   - Times are equal instants, and a time that want holds in UTC must come
//     back in UTC (adapters store UTC microseconds, see [crm.StorageTime]).
//   - Values with an Equal method ([crm.Money], [crm.FieldValue], decimals)
//     are compared with it, so 1.50 CNY equals 1.5 CNY.
//   - A nil slice or map equals an empty one: an adapter need not remember
//     which of the two the caller stored.
//   - JSON payloads are compared as JSON values, so insignificant white space
//     and key order do not matter.
//
// Diff uses reflection; it is meant for tests, not hot paths.
func Diff(want, got any) []string {
	var d differ
	d.walk("", reflect.ValueOf(want), reflect.ValueOf(got))
	return d.out
}

type differ struct{ out []string }

func (d *differ) addf(path, format string, args ...any) {
	if path == "" {
		path = "value"
	}
	d.out = append(d.out, path+": "+fmt.Sprintf(format, args...))
}

func (d *differ) walk(path string, want, got reflect.Value) {
	if !want.IsValid() || !got.IsValid() {
		if want.IsValid() != got.IsValid() {
			d.addf(path, "want %v, got %v", want, got)
		}
		return
	}
	if want.Type() != got.Type() {
		d.addf(path, "want type %s, got %s", want.Type(), got.Type())
		return
	}
	t := want.Type()
	switch {
	case t == timeType:
		w, g := want.Interface().(time.Time), got.Interface().(time.Time)
		if !w.Equal(g) {
			d.addf(path, "want %s, got %s", w.Format(time.RFC3339Nano), g.Format(time.RFC3339Nano))
		} else if w.Location() == time.UTC && g.Location() != time.UTC {
			d.addf(path, "want a UTC time, got location %s", g.Location())
		}
		return
	case t == rawJSONType:
		if !jsonEqual(want.Bytes(), got.Bytes()) {
			d.addf(path, "want JSON %s, got %s", want.Bytes(), got.Bytes())
		}
		return
	}
	if eq, ok := t.MethodByName("Equal"); ok && eq.Type.NumIn() == 2 && eq.Type.In(1) == t &&
		eq.Type.NumOut() == 1 && eq.Type.Out(0) == boolType && t.Kind() != reflect.Map {
		if !eq.Func.Call([]reflect.Value{want, got})[0].Bool() {
			d.addf(path, "want %s, got %s", show(want), show(got))
		}
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		if want.IsNil() || got.IsNil() {
			if want.IsNil() != got.IsNil() {
				d.addf(path, "want %s, got %s", nilness(want), nilness(got))
			}
			return
		}
		d.walk(path, want.Elem(), got.Elem())
	case reflect.Struct:
		if hasUnexported(t) {
			if !reflect.DeepEqual(want.Interface(), got.Interface()) {
				d.addf(path, "want %v, got %v", want, got)
			}
			return
		}
		for i := range t.NumField() {
			f := t.Field(i)
			p := f.Name
			if f.Anonymous {
				p = path // promoted fields read as the record's own
			} else if path != "" {
				p = path + "." + f.Name
			}
			d.walk(p, want.Field(i), got.Field(i))
		}
	case reflect.Slice:
		if want.Len() != got.Len() {
			d.addf(path, "want %d items %v, got %d items %v", want.Len(), want, got.Len(), got)
			return
		}
		for i := range want.Len() {
			d.walk(fmt.Sprintf("%s[%d]", path, i), want.Index(i), got.Index(i))
		}
	case reflect.Map:
		keys := func(m reflect.Value) []string {
			var ks []string
			for _, k := range m.MapKeys() {
				ks = append(ks, fmt.Sprint(k))
			}
			slices.Sort(ks)
			return ks
		}
		wk, gk := keys(want), keys(got)
		if !slices.Equal(wk, gk) {
			d.addf(path, "want keys %v, got keys %v", wk, gk)
			return
		}
		for _, k := range want.MapKeys() {
			d.walk(fmt.Sprintf("%s[%v]", path, k), want.MapIndex(k), got.MapIndex(k))
		}
	case reflect.String:
		if want.String() != got.String() {
			d.addf(path, "want %q, got %q", want.String(), got.String())
		}
	default:
		if !reflect.DeepEqual(want.Interface(), got.Interface()) {
			d.addf(path, "want %v, got %v", want, got)
		}
	}
}

func hasUnexported(t reflect.Type) bool {
	for i := range t.NumField() {
		if !t.Field(i).IsExported() {
			return true
		}
	}
	return false
}

func nilness(v reflect.Value) string {
	if v.IsNil() {
		return "nil"
	}
	return fmt.Sprintf("%v", v.Elem())
}

func jsonEqual(a, b []byte) bool {
	a, b = bytes.TrimSpace(a), bytes.TrimSpace(b)
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	return reflect.DeepEqual(x, y)
}

// show prints a value with an Equal method readably: through String, or
// as JSON for values whose fields are unexported (such as crm.FieldValue).
func show(v reflect.Value) string {
	switch x := v.Interface().(type) {
	case fmt.Stringer:
		return x.String()
	case json.Marshaler:
		if b, err := x.MarshalJSON(); err == nil {
			return string(b)
		}
	}
	return fmt.Sprintf("%v", v)
}
