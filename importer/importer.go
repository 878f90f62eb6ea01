package importer

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/width"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/dedupe"
)

// Fields a column may map to, besides "custom.<key>".
const (
	FieldName     = "name"
	FieldKind     = "kind"
	FieldContact  = "contact"
	FieldPhone    = "phone"
	FieldEmail    = "email"
	FieldAddress  = "address"
	FieldRegion   = "region"
	FieldIndustry = "industry"
	FieldLevel    = "level"
	FieldSource   = "source"
	// CustomPrefix starts a custom field: "custom.signed_on" maps to the
	// customer's custom field "signed_on".
	CustomPrefix = "custom."
	// ContactField is the custom field the "contact" field is stored in:
	// a customer record has no contact-person attribute of its own.
	ContactField = "contact"
	// TypedPrefix starts the custom field that keeps what was typed for a
	// field whose value standardising changed; see [TypedField].
	TypedPrefix = "typed_"
)

// Limits of an import's values.
const (
	// MaxValueBytes is the longest value a reader should pass on: a field
	// longer than this is refused with its line and column before it
	// reaches [Apply]. The customer's own limits (a name of at most 200
	// characters, custom text of at most 4,096 bytes) apply after it.
	MaxValueBytes = 64 << 10
	// MaxExternalIDBytes is the longest external ID.
	MaxExternalIDBytes = 256
	// MaxSourceBytes is the longest source-system name.
	MaxSourceBytes = 64
)

var standardFields = []string{FieldName, FieldKind, FieldContact, FieldPhone, FieldEmail, FieldAddress, FieldRegion, FieldIndustry, FieldLevel, FieldSource}

// Fields returns the names of the standard fields a column may map to.
func Fields() []string { return slices.Clone(standardFields) }

// CheckField returns a [*crm.ValidationError] on path when field is neither
// a standard field ([Fields]) nor "custom.<key>" with a valid custom field
// name (1-64 lower-case letters, digits and underscores, starting with a
// letter, not starting with [TypedPrefix]).
func CheckField(path, field string) error {
	if slices.Contains(standardFields, field) {
		return nil
	}
	if key, ok := strings.CutPrefix(field, CustomPrefix); ok {
		if !crm.ValidName(key) || strings.HasPrefix(key, TypedPrefix) || key == crm.MergedIntoField || key == ContactField {
			return crm.Invalid(path, "custom field %q: want 1-64 lower-case letters, digits or underscores, starting with a letter, not %q, %q or %s...", clip(key), crm.MergedIntoField, ContactField, TypedPrefix)
		}
		return nil
	}
	return crm.Invalid(path, "unknown field %q: want one of %s, or custom.<key>", clip(field), strings.Join(standardFields, ", "))
}

// TypedField is the custom field that keeps what was typed for field, when
// standardising changed it: "typed_phone", "typed_signed_on" (for
// "custom.signed_on"), cut to 64 bytes.
func TypedField(field string) string {
	name := TypedPrefix + strings.TrimPrefix(field, CustomPrefix)
	if len(name) > 64 {
		name = name[:64]
	}
	return name
}

// Note says what standardising could not do for one field; the value was
// stored as folded.
type Note struct {
	// Field is the field ("phone").
	Field string
	// Text is a short sentence.
	Text string
}

// Standardise returns the value of field as stored, and a note when the
// value could not be standardised (it is then returned folded). region is
// the ISO 3166 country assumed for phones without a country code ("CN" when
// empty). A kind that is neither company nor person is a
// [*crm.ValidationError] on field.
func Standardise(field, typed, region string) (string, *Note, error) {
	v := strings.TrimSpace(width.Fold.String(typed))
	if v == "" {
		return "", nil, nil
	}
	switch {
	case field == FieldPhone:
		p, err := dedupe.NormalisePhone(v, region)
		if err != nil {
			return v, &Note{Field: field, Text: "not a valid phone number, kept as typed"}, nil
		}
		return p.String(), nil, nil
	case field == FieldEmail:
		return strings.ToLower(strings.Join(strings.Fields(v), "")), nil, nil
	case field == FieldKind:
		switch strings.ToLower(v) {
		case "company", "公司", "企业", "单位":
			return string(crm.CustomerCompany), nil, nil
		case "person", "个人", "个人客户":
			return string(crm.CustomerPerson), nil, nil
		}
		return "", nil, crm.Invalid(field, "must be company or person, got %q", clip(v))
	case strings.HasPrefix(field, CustomPrefix) && isoDateLike.MatchString(v):
		if d, err := dedupe.NormaliseDate(v); err == nil {
			return d, nil, nil
		}
		return v, &Note{Field: field, Text: "not a valid date, kept as typed"}, nil
	}
	return v, nil, nil
}

// isoDateLike matches a year-first date with separators: the forms whose
// reading is not ambiguous.
var isoDateLike = regexp.MustCompile(`^\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*[日号]?$`)

// Apply sets the fields of values (field name to typed value, as checked
// by [CheckField]) on c, standardised, keeping what was typed in
// [TypedField] when standardising changed it and removing an old typed
// copy when it did not. A field mapped but empty is cleared. Fields not in
// values are left as they are. It returns the notes of values that could
// not be standardised; a bad value is a [*crm.ValidationError] or
// [crm.ValidationErrors] naming the field ("phone", "custom.signed_on"),
// with c then partly set. It does not validate c as a whole: call
// c.Validate.
func Apply(c *crm.Customer, values map[string]string, region string) ([]Note, error) {
	var notes []Note
	var errs crm.ValidationErrors
	for _, field := range slices.Sorted(maps.Keys(values)) {
		typed := values[field]
		if err := CheckField(field, field); err != nil {
			errs = append(errs, err.(*crm.ValidationError))
			continue
		}
		if !utf8.ValidString(typed) || strings.IndexByte(typed, 0) >= 0 {
			errs = append(errs, crm.Invalid(field, "must be valid UTF-8 text without NUL bytes"))
			continue
		}
		v, note, err := Standardise(field, typed, region)
		if err != nil {
			errs = append(errs, err.(*crm.ValidationError))
			continue
		}
		if note != nil {
			notes = append(notes, *note)
		}
		setTyped(c, field, strings.TrimSpace(typed), v)
		switch field {
		case FieldName:
			c.Name = v
		case FieldKind:
			c.Kind = crm.CustomerKind(v)
		case FieldPhone:
			c.Phone = v
		case FieldEmail:
			c.Email = v
		case FieldAddress:
			c.Address = v
		case FieldRegion:
			c.Region = v
		case FieldIndustry:
			c.Industry = v
		case FieldLevel:
			c.Level = v
		case FieldSource:
			c.Source = v
		case FieldContact:
			setCustom(c, ContactField, v)
		default:
			setCustom(c, strings.TrimPrefix(field, CustomPrefix), v)
		}
	}
	if len(errs) > 0 {
		return notes, errs
	}
	return notes, nil
}

// setTyped keeps typed beside the stored value v when they differ.
func setTyped(c *crm.Customer, field, typed, v string) {
	if typed != v && typed != "" {
		setCustom(c, TypedField(field), typed)
		return
	}
	setCustom(c, TypedField(field), "")
}

// setCustom sets a text custom field, or removes it for "".
func setCustom(c *crm.Customer, name, v string) {
	if v == "" {
		delete(c.Fields, name)
		return
	}
	if c.Fields == nil {
		c.Fields = crm.Fields{}
	}
	c.Fields[name] = crm.String(v)
}

// SameValues reports whether a and b agree on every attribute an import
// writes: kind, name, level, industry, region, source, phone, e-mail,
// address and the custom fields.
func SameValues(a, b *crm.Customer) bool {
	return a.Kind == b.Kind && a.Name == b.Name && a.Level == b.Level && a.Industry == b.Industry &&
		a.Region == b.Region && a.Source == b.Source && a.Phone == b.Phone && a.Email == b.Email &&
		a.Address == b.Address && a.Fields.Equal(b.Fields)
}

// clip shortens s for an error message without cutting a character.
func clip(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// checkText refuses an empty, oversized or non-text value of name.
func checkText(name, v string, max int) *crm.ValidationError {
	switch {
	case v == "":
		return crm.Invalid(name, "is required")
	case len(v) > max:
		return crm.Invalid(name, "at most %d bytes, got %d", max, len(v))
	case !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0:
		return crm.Invalid(name, "must be valid UTF-8 text without NUL bytes")
	}
	return nil
}

// CheckSource refuses a source-system name that is empty, longer than
// [MaxSourceBytes] or not text.
func CheckSource(source string) error {
	if err := checkText("source", source, MaxSourceBytes); err != nil {
		return err
	}
	return nil
}

// CheckExternalID refuses an external ID that is empty, longer than
// [MaxExternalIDBytes] or not text.
func CheckExternalID(id string) error {
	if err := checkText("external_id", id, MaxExternalIDBytes); err != nil {
		return err
	}
	return nil
}

// Digest returns a digest of a row's typed values (and the on-duplicate
// mode or anything else the caller adds in extra): rows with the same
// values have the same digest, whatever the order of the map.
func Digest(values map[string]string, extra ...string) string {
	h := sha256.New()
	for _, e := range extra {
		h.Write([]byte(e))
		h.Write([]byte{0})
	}
	for _, k := range slices.Sorted(maps.Keys(values)) {
		h.Write([]byte(k))
		h.Write([]byte{0})
		h.Write([]byte(values[k]))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
