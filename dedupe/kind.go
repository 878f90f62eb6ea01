package dedupe

import (
	"strings"
	"unicode/utf8"
)

// Kind says what a field holds; it chooses the normaliser, the comparator,
// the default weights and the blocking keys of the field.
type Kind string

// Field kinds.
const (
	// KindName is a person's full name, Chinese or Western.
	KindName Kind = "name"
	// KindGivenName is a person's given (first) name.
	KindGivenName Kind = "given_name"
	// KindFamilyName is a person's family name (surname).
	KindFamilyName Kind = "family_name"
	// KindCompany is an organisation's name.
	KindCompany Kind = "company"
	// KindPhone is a telephone number.
	KindPhone Kind = "phone"
	// KindEmail is an e-mail address.
	KindEmail Kind = "email"
	// KindAddress is a postal address, whole or in part.
	KindAddress Kind = "address"
	// KindStreet is a street name or a street line of an address.
	KindStreet Kind = "street"
	// KindCity is a city, town or suburb.
	KindCity Kind = "city"
	// KindPostcode is a postal code.
	KindPostcode Kind = "postcode"
	// KindState is a state, province or region code.
	KindState Kind = "state"
	// KindDate is a date, such as a date of birth or of founding.
	KindDate Kind = "date"
	// KindNationalID is an identity number: national ID, tax or social
	// security number, unified social credit code.
	KindNationalID Kind = "national_id"
	// KindText is any other text, compared as folded words.
	KindText Kind = "text"
)

// Kinds lists every kind, in the order of their documentation.
func Kinds() []Kind {
	return []Kind{KindName, KindGivenName, KindFamilyName, KindCompany, KindPhone, KindEmail, KindAddress,
		KindStreet, KindCity, KindPostcode, KindState, KindDate, KindNationalID, KindText}
}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool {
	for _, x := range Kinds() {
		if x == k {
			return true
		}
	}
	return false
}

// Level is how well two values of one field agree.
type Level uint8

// Agreement levels, from none to full. A field missing on either side has
// LevelMissing and weighs nothing either way.
const (
	LevelMissing Level = iota
	LevelDifferent
	LevelPartial
	LevelClose
	LevelExact
	numLevels
)

var levelNames = [...]string{"missing", "different", "partial", "close", "exact"}

// String returns the level's name: "exact", "close", "partial",
// "different" or "missing".
func (l Level) String() string {
	if int(l) < len(levelNames) {
		return levelNames[l]
	}
	return "unknown"
}

// normalised holds a field value prepared for comparison: the main form
// and, depending on the kind, an alternative (pinyin for Chinese names, the
// region for companies).
type normalised struct {
	v, alt string
	// freq, when not 0, is how many records of a clustering run share v:
	// filled in once so that scoring a pair need not look it up.
	freq uint32
	// shared marks a contact point that records of a clustering run give
	// under names that disagree, or three records or more under names
	// written differently (see contactKey).
	shared bool
}

// normalise prepares one value of kind k. Values that do not parse (a phone
// number with too few digits, an impossible date) are kept folded, so two
// records with the same odd value still agree.
func normalise(k Kind, s, region string) normalised { return normaliseWith(k, s, region, nil) }

// normaliseWith is normalise reading Chinese characters through cache
// (nil for none).
func normaliseWith(k Kind, s, region string, cache readingCache) normalised {
	switch k {
	case KindName, KindGivenName, KindFamilyName:
		n := NormaliseName(s)
		if hasHan(n) {
			return normalised{v: n, alt: pinyinKey(n, cache)}
		}
		return normalised{v: n}
	case KindCompany:
		c := NormaliseCompany(s)
		alt := c.Region
		if hasHan(c.Core) {
			// The reading of a Chinese name, after the region: 炎硕 and
			// 雁硕 are one name misheard.
			alt += "|" + pinyinKey(c.Core, cache)
		}
		return normalised{v: c.Key(), alt: alt}
	case KindPhone:
		if p, err := NormalisePhone(s, region); err == nil {
			return normalised{v: p.E164}
		}
		return normalised{v: digitsOnly(Fold(s))}
	case KindEmail:
		return normalised{v: NormaliseEmail(s)}
	case KindAddress, KindStreet:
		return normalised{v: NormaliseAddress(s)}
	case KindCity, KindState:
		f := stripSpacesBetweenHan(Simplify(s))
		if r, ok := asRegion(strings.ReplaceAll(f, " ", "")); ok {
			return normalised{v: r}
		}
		return normalised{v: f}
	case KindPostcode, KindNationalID:
		return normalised{v: strings.ReplaceAll(Simplify(s), " ", "")}
	case KindDate:
		return normalised{v: dateKey(s)}
	default:
		return normalised{v: stripSpacesBetweenHan(Simplify(s))}
	}
}

// compareField returns the agreement level of two prepared values of kind
// k. It does not allocate.
func compareField(k Kind, a, b normalised) Level {
	if a.v == "" || b.v == "" {
		return LevelMissing
	}
	if a.v == b.v {
		if ra, rb := companyRegion(a.alt), companyRegion(b.alt); k == KindCompany && ra != "" && rb != "" && !sameArea(ra, rb) {
			// Same name in two regions: often two companies.
			return LevelPartial
		}
		return LevelExact
	}
	switch k {
	case KindName, KindGivenName, KindFamilyName:
		if a.alt != "" && a.alt == b.alt {
			return LevelClose // homophones: 李伟 and 李薇
		}
		if k != KindFamilyName && sameGivenName(a.v, b.v) {
			_, ra := nextToken(a.v)
			_, rb := nextToken(b.v)
			if k == KindGivenName || ra == rb {
				return LevelClose // William and Bill
			}
		}
		var jw float64
		if k == KindName {
			jw = jaroWinklerOrMongeElkan(a.v, b.v)
		} else {
			jw = JaroWinkler(a.v, b.v)
		}
		if a.alt != "" && b.alt != "" {
			jw = max(jw, JaroWinkler(a.alt, b.alt)-0.04)
		}
		switch {
		case jw >= 0.92:
			return LevelClose
		case jw >= 0.8:
			return LevelPartial
		}
		if k != KindName && (len(a.v) == 1 || len(b.v) == 1) && a.v[0] == b.v[0] {
			return LevelPartial // an initial
		}
		return LevelDifferent
	case KindCompany:
		if branchOf(a.v) != branchOf(b.v) {
			return LevelDifferent // a branch is a different customer
		}
		jw := jaroWinklerOrMongeElkan(a.v, b.v)
		switch {
		case jw >= 0.93:
			return LevelClose
		case sameReading(a.alt, b.alt):
			return LevelClose // homophones: 炎硕鞋业 and 雁硕鞋业
		case jw >= 0.85 || nameWithin(a.v, b.v) || hanPrefix(a.v, b.v):
			return LevelPartial
		}
		return LevelDifferent
	case KindPhone:
		if withinOneEdit(a.v, b.v) {
			return LevelPartial
		}
		return LevelDifferent
	case KindEmail:
		la, lb := localPart(a.v), localPart(b.v)
		da, db := a.v[len(la):], b.v[len(lb):]
		if la != "" && la == lb && (da == db || freeMail[da] || freeMail[db]) {
			return LevelClose // one mailbox name, at a free provider or one domain
		}
		if withinOneEdit(a.v, b.v) {
			return LevelPartial
		}
		if la != "" && lb != "" && da == db && !freeMail[da] {
			return LevelPartial // two people of one company's domain
		}
		return LevelDifferent
	case KindPostcode:
		switch DamerauDistance(a.v, b.v, 2) {
		case 1:
			return LevelClose
		case 2:
			return LevelPartial
		}
		return LevelDifferent
	case KindNationalID:
		if withinOneEdit(a.v, b.v) {
			return LevelClose
		}
		return LevelDifferent
	case KindState:
		return LevelDifferent
	case KindDate:
		return compareDates(a.v, b.v)
	case KindAddress, KindStreet:
		if numbersConflict(a.v, b.v) {
			return LevelDifferent // 837 and 840 Second Ave are two buildings
		}
		// One house number: the streets decide ("1 Mission St." and
		// "1 Market St." are two places).
		a.v, b.v = cutCommonNumber(a.v, b.v)
		short, long := a.v, b.v
		if len(short) > len(long) {
			short, long = long, short
		}
		var jw float64
		if singleWords(a.v, b.v) {
			// Monge-Elkan of single words is Jaro-Winkler: one decoding
			// serves the containment test and the similarity.
			ab, ba := jaroWinklerBoth(a.v, b.v)
			oneWay := ab
			if len(a.v) > len(b.v) {
				oneWay = ba
			}
			if oneWay >= 0.97 {
				return LevelClose
			}
			jw = max(ab, (ab+ba)/2)
		} else {
			// One address is the other plus detail ("at 10th st", a building).
			if mongeElkanOneWay(short, long) >= 0.97 {
				return LevelClose
			}
			jw = jaroWinklerOrMongeElkan(a.v, b.v)
		}
		switch {
		case jw >= 0.92:
			return LevelClose
		case jw >= 0.8:
			return LevelPartial
		}
		return LevelDifferent
	default:
		jw := jaroWinklerOrMongeElkan(a.v, b.v)
		switch {
		case jw >= 0.92:
			return LevelClose
		case jw >= 0.8:
			return LevelPartial
		}
		return LevelDifferent
	}
}

func branchOf(companyKey string) string {
	if i := strings.IndexByte(companyKey, '#'); i >= 0 {
		return companyKey[i+1:]
	}
	return ""
}

func localPart(email string) string {
	if i := strings.IndexByte(email, '@'); i > 0 {
		return email[:i]
	}
	return ""
}

// defaultProbabilities returns starting m and u probabilities for the
// levels Different, Partial, Close and Exact of a kind: m is how often
// records of the same entity agree at that level, u how often records of
// different entities do. Learning replaces them with figures from the data.
func defaultProbabilities(k Kind) (m, u [numLevels]float64) {
	set := func(mm, uu [4]float64) {
		copy(m[LevelDifferent:], mm[:])
		copy(u[LevelDifferent:], uu[:])
	}
	switch k {
	case KindName, KindGivenName, KindFamilyName:
		set([4]float64{0.05, 0.05, 0.15, 0.75}, [4]float64{0.95, 0.04, 0.008, 0.002})
	case KindCompany:
		set([4]float64{0.05, 0.05, 0.1, 0.8}, [4]float64{0.99, 0.008, 0.0015, 0.0005})
	case KindPhone, KindEmail, KindNationalID:
		set([4]float64{0.1, 0.05, 0.05, 0.8}, [4]float64{0.9999, 0.00008, 0.00001, 0.00001})
	case KindPostcode:
		set([4]float64{0.05, 0.03, 0.07, 0.85}, [4]float64{0.98, 0.01, 0.009, 0.001})
	case KindDate:
		set([4]float64{0.05, 0.03, 0.07, 0.85}, [4]float64{0.999, 0.0006, 0.0003, 0.0001})
	case KindState, KindCity:
		set([4]float64{0.1, 0.05, 0.1, 0.75}, [4]float64{0.8, 0.02, 0.03, 0.15})
	case KindText:
		// Free text (a category, a note) differs often between sources.
		set([4]float64{0.4, 0.1, 0.1, 0.4}, [4]float64{0.9, 0.05, 0.03, 0.02})
	default:
		set([4]float64{0.05, 0.05, 0.15, 0.75}, [4]float64{0.95, 0.04, 0.008, 0.002})
	}
	return m, u
}

// usesTermFrequency reports whether exact agreement on kind k is weighed
// by how rare the value is: agreeing on "Wang Wei" says less than agreeing
// on "Ouyang Zhenhua".
func (k Kind) usesTermFrequency() bool {
	switch k {
	case KindName, KindGivenName, KindFamilyName, KindCompany, KindCity, KindStreet, KindAddress, KindText, KindPostcode:
		return true
	}
	return false
}

// contactPoint reports whether values of kind k are a way to reach a
// customer that several customers may share: a switchboard number, an
// office e-mail, a building's address.
func (k Kind) contactPoint() bool {
	switch k {
	case KindPhone, KindEmail, KindAddress, KindStreet:
		return true
	}
	return false
}

// contactKey is the part of a contact point that records of one building
// or switchboard share: an address's house number and the first word of
// its street ("3434 peachtree" of "3434 peachtree rd. ne"), or the whole
// value. It is a prefix of v and does not allocate.
func contactKey(k Kind, v string) string {
	if k != KindAddress && k != KindStreet {
		return v
	}
	n := len(leadingDigits(v))
	if n == 0 || n == len(v) || v[n] != ' ' {
		return v
	}
	word, _ := nextToken(v[n+1:])
	return v[:n+1+len(word)]
}

// companyRegion returns the region part of a prepared company's
// alternative form (region, then "|" and the reading of a Chinese name).
func companyRegion(alt string) string {
	if i := strings.IndexByte(alt, '|'); i >= 0 {
		return alt[:i]
	}
	return alt
}

// sameReading reports whether two prepared companies' Chinese names read
// the same.
func sameReading(a, b string) bool {
	i, j := strings.IndexByte(a, '|'), strings.IndexByte(b, '|')
	return i >= 0 && j >= 0 && a[i+1:] == b[j+1:] && a[i+1:] != ""
}

// hanPrefix reports whether one Chinese company name begins with the
// other of two characters or more: 金雄 and 金雄保洁服务, the trade name
// with and without its line of business.
func hanPrefix(a, b string) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	return hasHan(a) && utf8.RuneCountInString(a) >= 2 && strings.HasPrefix(b, a)
}

// freeMail lists the domains, with their "@", of mail providers anyone can
// open a mailbox at: one mailbox name at two of them may well be one
// person, while one mailbox name at two companies' domains is two people
// (yangjing@a.com and yangjing@b.com).
var freeMail = func() map[string]bool {
	m := map[string]bool{}
	for _, d := range strings.Fields(`qq.com foxmail.com 163.com 126.com yeah.net sina.com sina.cn sohu.com
		139.com 189.cn wo.cn aliyun.com tom.com gmail.com googlemail.com hotmail.com outlook.com live.com
		msn.com yahoo.com yahoo.com.cn ymail.com icloud.com me.com mac.com aol.com gmx.com gmx.de
		web.de mail.ru yandex.ru proton.me protonmail.com zoho.com`) {
		m["@"+d] = true
	}
	return m
}()
