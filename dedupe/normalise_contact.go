package dedupe

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// Phone is a telephone number in E.164 form with its extension apart.
type Phone struct {
	// E164 is "+" followed by country code and national number: "+8613800138000".
	E164 string
	// Extension is the internal extension ("8001"), empty when none.
	Extension string
}

// String returns E164, followed by ";ext=" and the extension when there is
// one (the RFC 3966 notation).
func (p Phone) String() string {
	if p.Extension == "" {
		return p.E164
	}
	return p.E164 + ";ext=" + p.Extension
}

// NormalisePhone parses a telephone number written in any usual way and
// returns it in E.164 form. region is the ISO 3166 country assumed for
// numbers written without a country code ("CN" when empty).
//
// It accepts full-width digits, spaces, dashes, dots and brackets; the
// international prefixes "+", "00" and, for Chinese numbers, a bare "86"
// before an 11-digit mobile; trunk prefixes of landlines ("010-8888 6666");
// and extensions written "ext 12", "x12", "转12" or "-12" after a complete
// landline. The error names the problem when the text is not a valid number.
func NormalisePhone(s, region string) (Phone, error) {
	if region == "" {
		region = "CN"
	}
	region = strings.ToUpper(region)
	f := Fold(s)
	if f == "" {
		return Phone{}, fmt.Errorf("dedupe: phone: empty")
	}
	var ext string
	for _, sep := range []string{"转", "ext.", "ext", "分机", "#", "x"} {
		if i := strings.LastIndex(f, sep); i > 0 {
			if e := digitsOnly(f[i+len(sep):]); e != "" && len(e) <= 6 {
				ext = e
				f = f[:i]
				break
			}
		}
	}
	d := digitsOnly(f)
	plus := strings.HasPrefix(strings.TrimSpace(f), "+")
	if d == "" {
		return Phone{}, fmt.Errorf("dedupe: phone %q: no digits", truncateText(s))
	}
	// Fast path for the most common input: a Chinese mobile number, with or
	// without the country code. Mobile numbers are 11 digits starting 1[3-9].
	if m, ok := chineseMobile(d, plus, region); ok {
		return Phone{E164: "+86" + m, Extension: ext}, nil
	}
	text := d
	switch {
	case plus:
		text = "+" + d
	case strings.HasPrefix(d, "00"):
		text = "+" + d[2:]
	}
	num, err := phonenumbers.Parse(text, region)
	if err == nil && !phonenumbers.IsValidNumber(num) && !plus {
		// "86 10 8888 6666": a country code written without "+".
		if n2, err2 := phonenumbers.Parse("+"+d, region); err2 == nil && phonenumbers.IsValidNumber(n2) {
			num = n2
		}
	}
	if err == nil && !phonenumbers.IsValidNumber(num) && ext == "" {
		// "010-88886666-123": an extension after a complete landline.
		if i := strings.LastIndexAny(f, "-—"); i > 0 {
			if e := digitsOnly(f[i+1:]); e != "" && len(e) <= 5 {
				if p, err2 := NormalisePhone(f[:i], region); err2 == nil {
					p.Extension = e
					return p, nil
				}
			}
		}
	}
	if err != nil {
		return Phone{}, fmt.Errorf("dedupe: phone %q: %w", truncateText(s), err)
	}
	if !phonenumbers.IsValidNumber(num) {
		return Phone{}, fmt.Errorf("dedupe: phone %q: not a valid number for region %s", truncateText(s), region)
	}
	if e := num.GetExtension(); e != "" && ext == "" {
		ext = e
	}
	return Phone{E164: phonenumbers.Format(num, phonenumbers.E164), Extension: ext}, nil
}

// chineseMobile recognises a Chinese mobile number (11 digits, 1[3-9]...)
// written with or without the country code, without the cost of a full
// parse.
func chineseMobile(d string, plus bool, region string) (string, bool) {
	m := d
	switch {
	case plus:
		var ok bool
		if m, ok = strings.CutPrefix(d, "86"); !ok {
			return "", false
		}
	case strings.HasPrefix(d, "0086"):
		m = d[4:]
	case region != "CN":
		return "", false
	case len(d) == 13 && strings.HasPrefix(d, "86"):
		m = d[2:]
	}
	if len(m) == 11 && m[0] == '1' && m[1] >= '3' && m[1] <= '9' {
		return m, true
	}
	return "", false
}

// truncateText shortens s for error messages.
func truncateText(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// NormaliseEmail returns an e-mail address in a canonical form: folded
// (full-width characters and case), spaces removed, and for Gmail
// (gmail.com, googlemail.com) the rules Google documents: dots in the local
// part are ignored and a "+tag" suffix is dropped, and googlemail.com is
// gmail.com. Other providers are only folded: whether they ignore dots or
// tags is not documented. Text without "@" is returned folded.
func NormaliseEmail(s string) string {
	f := strings.ReplaceAll(Fold(s), " ", "")
	f = strings.Trim(f, "<>\"'")
	f = strings.TrimPrefix(f, "mailto:")
	local, domain, ok := strings.Cut(f, "@")
	if !ok {
		return f
	}
	domain = strings.TrimSuffix(domain, ".")
	if domain == "googlemail.com" {
		domain = "gmail.com"
	}
	if domain == "gmail.com" {
		if i := strings.IndexByte(local, '+'); i >= 0 {
			local = local[:i]
		}
		local = strings.ReplaceAll(local, ".", "")
	}
	return local + "@" + domain
}

// English street words and their usual abbreviations.
var addressAbbreviations = map[string]string{
	"street": "st", "str": "st", "road": "rd", "avenue": "ave", "av": "ave", "boulevard": "blvd", "blv": "blvd",
	"drive": "dr", "lane": "ln", "place": "pl", "court": "ct", "crescent": "cres", "highway": "hwy",
	"north": "n", "south": "s", "east": "e", "west": "w", "suite": "ste", "apartment": "apt",
	"floor": "fl", "square": "sq", "terrace": "tce", "parade": "pde", "circuit": "cct", "close": "cl",
	"mount": "mt", "first": "1st", "second": "2nd", "third": "3rd", "fourth": "4th", "fifth": "5th",
	"sixth": "6th", "seventh": "7th", "eighth": "8th", "ninth": "9th", "tenth": "10th", "saint": "st", "building": "bldg", "center": "ctr", "centre": "ctr", "parkway": "pkwy",
}

// NormaliseAddress returns a postal address in a canonical form. Full-width
// digits and letters are folded and spaces between Chinese characters
// removed; leading province and city names ("广东省深圳市", "北京市",
// "上海") are dropped because people leave them out so often, while the
// district and everything after it are kept: "广东省深圳市南山区科技园路１号"
// becomes "南山区科技园路1号". English addresses lose punctuation and use the
// usual abbreviations ("street" becomes "st", "boulevard" "blvd").
func NormaliseAddress(s string) string {
	f := stripSpacesBetweenHan(Fold(s))
	if f == "" {
		return ""
	}
	if hasHan(f) {
		f = strings.ReplaceAll(simplifyFolded(f, "-#"), " ", "")
		for range 2 {
			r, rest := cutRegionPrefix(f)
			if r == "" || rest == "" {
				break
			}
			f = rest
		}
		return f
	}
	words := strings.Fields(simplifyFolded(f, "#"))
	for i, w := range words {
		if a, ok := addressAbbreviations[w]; ok {
			words[i] = a
		}
	}
	return strings.Join(words, " ")
}

// NormaliseDate parses a calendar date and returns it as "2006-01-02".
// Accepted forms: 20060102, 2006-01-02, 2006/1/2, 2006.01.02, 2006年1月2日,
// 2006-01-02T15:04:05Z07:00 (the date part), and day-first 02/01/2006 or
// 2-1-2006 (as written in most of the world). Full-width digits are folded.
func NormaliseDate(s string) (string, error) {
	y, m, d, err := dateParts(s)
	if err != nil {
		return "", err
	}
	if y < 1000 || y > 9999 || m < 1 || m > 12 || d < 1 || d > 31 {
		return "", fmt.Errorf("dedupe: date %q: out of range", truncateText(s))
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Day() != d {
		return "", fmt.Errorf("dedupe: date %q: %d-%02d has no day %d", truncateText(s), y, m, d)
	}
	return t.Format(time.DateOnly), nil
}

// dateKey prepares a date for comparison. A valid date is written as
// [NormaliseDate] writes it. An impossible one is read as clerks get dates
// wrong: day and month swapped when that makes a date (1504-21-01 is 21
// January 1504), else kept as year-month-day digits, so that 1862-01-71
// is one keying error from 1862-01-11. Anything else is kept as its
// digits.
func dateKey(s string) string {
	if d, err := NormaliseDate(s); err == nil {
		return d
	}
	y, m, d, err := dateParts(s)
	if err != nil || y < 1000 || y > 9999 || m > 99 || d > 99 {
		return digitsOnly(Fold(s))
	}
	if m > 12 && d >= 1 && d <= 12 {
		if t := time.Date(y, time.Month(d), m, 0, 0, 0, 0, time.UTC); t.Day() == m {
			return t.Format(time.DateOnly)
		}
	}
	return fmt.Sprintf("%04d-%02d-%02d", y, m, d)
}

// chineseDateMarks turns 2024年3月5日 into 2024-3-5.
var chineseDateMarks = strings.NewReplacer("年", "-", "月", "-", "日", "", "号", "")

// dateParts reads year, month and day from a date written with dashes,
// slashes or dots, as eight digits, in Chinese, or in RFC 3339, without
// checking their ranges.
func dateParts(s string) (y, m, d int, err error) {
	f := Fold(s)
	if f == "" {
		return 0, 0, 0, fmt.Errorf("dedupe: date: empty")
	}
	if t, err := time.Parse(time.RFC3339, f); err == nil {
		return t.Year(), int(t.Month()), t.Day(), nil
	}
	f = chineseDateMarks.Replace(f)
	if i := strings.IndexAny(f, " t"); i > 0 {
		f = f[:i]
	}
	var parts []string
	if len(f) == 8 && digitsOnly(f) == f {
		parts = []string{f[:4], f[4:6], f[6:]}
	} else {
		parts = strings.FieldsFunc(f, func(r rune) bool { return r == '-' || r == '/' || r == '.' })
	}
	if len(parts) != 3 {
		return 0, 0, 0, fmt.Errorf("dedupe: date %q: want year, month and day", truncateText(s))
	}
	var nums [3]int
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return 0, 0, 0, fmt.Errorf("dedupe: date %q: %q is not a number", truncateText(s), truncateText(p))
		}
		nums[i] = n
	}
	y, m, d = nums[0], nums[1], nums[2]
	if len(parts[0]) != 4 && len(parts[2]) == 4 {
		y, m, d = nums[2], nums[1], nums[0]
	}
	return y, m, d, nil
}
