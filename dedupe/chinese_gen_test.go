package dedupe

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"

	"github.com/mozillazg/go-pinyin"
)

// chineseGenerator makes realistic Chinese customer records and their
// duplicates as people type them, with known answers.
//
// It is meant to stay a fair test at a million records: company names
// draw their 字号 from a large pool with realistic frequency and are
// unique within their registering region (as the registration rules
// require), people's surnames follow their real frequency (王伟 and 张伟
// occur often, 欧阳 rarely), mobile and landline numbers, e-mail
// addresses and company domains are never shared by two customers, while
// office towers, road names and common names are shared as in life.
// Duplicates carry the errors people make: homophones typed through an
// input method, a dropped legal form or region, the region in brackets, a
// title instead of a given name, another contact person of the same
// company, numbers written in every usual way or mistyped, addresses cut
// short. A branch office (分公司) is a different customer from its head
// office.
//
// A generator is not safe for concurrent use.
type chineseGenerator struct {
	rng *rand.Rand
	t   *genTables
	// Identifiers handed out: phone numbers as digits, e-mail addresses,
	// company domains, and companies as region|core.
	phones    map[string]struct{}
	emails    map[string]struct{}
	domains   map[string]struct{}
	companies map[string]struct{}
	// sites holds the addresses of each city already in use, offices and
	// homes apart, so that customers come to share buildings.
	sites map[siteKey][]genSite
	// readings caches the pinyin of characters.
	readings readingCache
}

func newChineseGenerator(seed uint64) *chineseGenerator {
	return &chineseGenerator{
		rng:       rand.New(rand.NewPCG(seed, seed*7+1)),
		t:         chineseTables(),
		phones:    map[string]struct{}{},
		emails:    map[string]struct{}{},
		domains:   map[string]struct{}{},
		companies: map[string]struct{}{},
		sites:     map[siteKey][]genSite{},
		readings:  readingCache{},
	}
}

// genCity is a prefecture-level city.
type genCity struct {
	province      string // "广东省", "北京市", "广西壮族自治区"
	provinceShort string // "广东", "北京", "广西"
	name          string // "深圳"
	code          string // area code, "0755"
	districts     []string
	municipality  bool
	initials      string // "sz", for company domains
	// localLen and localFirst are the length and the possible first
	// digits of the city's landline numbers after the area code.
	localLen   int
	localFirst []byte
}

// full returns the city as written in addresses: "深圳市".
func (c *genCity) full() string { return c.name + "市" }

// genWeights are cumulative weights for drawing an index.
type genWeights []float64

func cumulative(ws []float64) genWeights {
	out := make(genWeights, len(ws))
	sum := 0.0
	for i, w := range ws {
		sum += w
		out[i] = sum
	}
	return out
}

// zipf returns weights for n items listed most common first: the item of
// rank r weighs 1/(r+k), so a larger k flattens the head.
func zipf(n int, k float64) genWeights {
	ws := make([]float64, n)
	for i := range ws {
		ws[i] = 1 / (float64(i) + k)
	}
	return cumulative(ws)
}

// genTables are the generator's tables, prepared once.
type genTables struct {
	cities             []genCity
	cityW, branchCityW genWeights
	surnames           []string
	surnameW           genWeights
	given              []rune
	givenW             genWeights
	homophones         map[rune][]rune
	brandChars         []rune
	brandCharW         genWeights
	brandWordW         genWeights
	industryW          genWeights
	commonRoadW        genWeights
	roadChars          []rune
	roadSuffixW        genWeights
	mobileW, freeMailW genWeights
	places             map[string]bool // place names a 字号 must not contain
	legal              []string
	legalW             genWeights
	officeW, homeW     genWeights
}

var chineseTables = sync.OnceValue(func() *genTables {
	t := &genTables{homophones: map[rune][]rune{}, places: map[string]bool{}}
	var cityWeights []float64
	for _, line := range genCityTable {
		f := strings.Split(line, "|")
		var w float64
		if _, err := fmt.Sscan(f[3], &w); err != nil {
			panic(fmt.Sprintf("city table: %q: %v", line, err))
		}
		c := genCity{province: f[0], name: f[1], code: f[2], districts: strings.Fields(f[4])}
		c.provinceShort = f[0]
		for _, suf := range regionSuffixes {
			if s, ok := strings.CutSuffix(f[0], suf); ok {
				c.provinceShort = s
				break
			}
		}
		c.municipality = c.provinceShort == c.name
		for _, r := range c.name {
			c.initials += pinyin.SinglePinyin(r, pinyin.NewArgs())[0][:1]
		}
		c.localLen, c.localFirst = landlineShape(c.code)
		t.cities = append(t.cities, c)
		cityWeights = append(cityWeights, w)
		t.places[c.name], t.places[c.provinceShort] = true, true
	}
	for r := range regionProvince {
		t.places[r] = true
	}
	t.cityW = cumulative(cityWeights)
	// Branch offices open in the large cities far more than in small ones.
	bw := make([]float64, len(cityWeights))
	for i, w := range cityWeights {
		bw[i] = w * w
	}
	t.branchCityW = cumulative(bw)

	sw := make([]float64, len(genSurnameTable))
	for i, s := range genSurnameTable {
		t.surnames = append(t.surnames, s.surname)
		sw[i] = s.perMille
	}
	t.surnameW = cumulative(sw)
	t.given = uniqueRunes(genGivenChars)
	t.givenW = zipf(len(t.given), 6)
	t.brandChars = uniqueRunes(genBrandChars)
	t.brandCharW = zipf(len(t.brandChars), 20)
	t.brandWordW = zipf(len(genBrandWords), 10)
	iw := make([]float64, len(genIndustries))
	for i, x := range genIndustries {
		iw[i] = x.weight
	}
	t.industryW = cumulative(iw)
	t.commonRoadW = zipf(len(genCommonRoads), 4)
	t.roadChars = uniqueRunes(genRoadChars)
	rw := make([]float64, len(genRoadSuffixes))
	for i, x := range genRoadSuffixes {
		rw[i] = x.weight
	}
	t.roadSuffixW = cumulative(rw)
	mw := make([]float64, len(genMobilePrefixes))
	for i, x := range genMobilePrefixes {
		mw[i] = x.weight
	}
	t.mobileW = cumulative(mw)
	fw := make([]float64, len(genFreeMail))
	for i, x := range genFreeMail {
		fw[i] = x.weight
	}
	t.freeMailW = cumulative(fw)
	t.legal = []string{"有限公司", "有限责任公司", "股份有限公司"}
	t.legalW = cumulative([]float64{72, 18, 10})
	t.officeW = zipf(len(genOfficeSuffixes), 3)
	t.homeW = zipf(len(genHomeSuffixes), 3)

	// Homophones: characters an input method offers for the same toneless
	// syllable.
	bySound := map[string][]rune{}
	seen := map[rune]bool{}
	for _, r := range uniqueRunes(genGivenChars + genHomophonePool + genBrandChars) {
		if seen[r] {
			continue
		}
		seen[r] = true
		if p := pinyin.SinglePinyin(r, pinyin.NewArgs()); len(p) > 0 {
			bySound[p[0]] = append(bySound[p[0]], r)
		}
	}
	for _, rs := range bySound {
		for _, r := range rs {
			for _, o := range rs {
				if o != r {
					t.homophones[r] = append(t.homophones[r], o)
				}
			}
		}
	}
	return t
})

// landlineShape returns the length of local numbers under an area code
// and the digits they may start with, as the numbering plan known to the
// phone library allows: eight digits where it can, else seven.
func landlineShape(code string) (length int, first []byte) {
	for _, length = range []int{8, 7} {
		first = first[:0]
		for d := byte('2'); d <= '8'; d++ {
			valid := true
			for _, rest := range []string{"0000000", "1234567", "5555555", "9876543", "3141592"} {
				if _, err := NormalisePhone(code+"-"+string(d)+rest[:length-1], "CN"); err != nil {
					valid = false
					break
				}
			}
			if valid {
				first = append(first, d)
			}
		}
		if len(first) > 0 {
			return length, first
		}
	}
	panic("city table: no valid landline numbers under area code " + code)
}

func uniqueRunes(s string) []rune {
	seen := map[rune]bool{}
	var out []rune
	for _, r := range s {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}

// draw returns an index drawn with the weights w.
func (g *chineseGenerator) draw(w genWeights) int {
	return min(sort.SearchFloat64s(w, g.rng.Float64()*w[len(w)-1]), len(w)-1)
}

// chance reports true with probability p.
func (g *chineseGenerator) chance(p float64) bool { return g.rng.Float64() < p }

// genEntity is one real customer: a company (with a contact person) or a
// private person.
type genEntity struct {
	person bool
	city   *genCity
	// Company name parts: the region written before it as registered
	// ("深圳市", "广东", "" for none) and that region bare ("深圳"), the
	// 字号 and industry ("华腾" + "科技" make the core), the legal form,
	// and for a branch office its suffix ("上海分公司").
	prefix, region, brand, core, legal, branch string
	domain                                     string
	surname, given                             string
	mobile                                     string
	landline                                   string // "0755-86001234", "" when none
	useLandline                                bool
	email                                      string
	site                                       genSite
	room                                       string
}

// registered returns the company's name as registered.
func (e *genEntity) registered() string {
	if e.person {
		return ""
	}
	return e.prefix + e.core + e.legal + e.branch
}

// genSite is a street address: a building that may hold many customers.
type genSite struct {
	district, road string
	number         int
	building       string // "华润大厦", "阳光花园"; "" for none
}

type siteKey struct {
	city *genCity
	home bool
}

// city draws a city by its share of customers.
func (g *chineseGenerator) city(w genWeights) *genCity { return &g.t.cities[g.draw(w)] }

// brand draws a 字号: a word firms like ("长城", "新世纪") or two to four
// characters from the pool, and never a place name (the registration
// rules forbid them in a 字号).
func (g *chineseGenerator) brand() string {
	for {
		var b string
		if g.chance(0.25) {
			b = genBrandWords[g.draw(g.t.brandWordW)]
		} else {
			n := 2
			switch x := g.rng.Float64(); {
			case x < 0.05:
				n = 4
			case x < 0.3:
				n = 3
			}
			rs := make([]rune, 0, n)
			for len(rs) < n {
				r := g.t.brandChars[g.draw(g.t.brandCharW)]
				if len(rs) > 0 && rs[len(rs)-1] == r && !g.chance(0.1) {
					continue
				}
				rs = append(rs, r)
			}
			b = string(rs)
		}
		if !g.containsPlace(b) {
			return b
		}
	}
}

func (g *chineseGenerator) containsPlace(s string) bool {
	rs := []rune(s)
	for i := range rs {
		for j := i + 2; j <= len(rs); j++ {
			if g.t.places[string(rs[i:j])] {
				return true
			}
		}
	}
	return false
}

// person draws a name: surnames by their real frequency, one or two given
// characters, common ones far more often than rare ones.
func (g *chineseGenerator) person() (surname, given string) {
	surname = g.t.surnames[g.draw(g.t.surnameW)]
	n := 2
	if g.chance(0.12) {
		n = 1
	}
	rs := make([]rune, n)
	for i := range rs {
		rs[i] = g.t.given[g.draw(g.t.givenW)]
	}
	return surname, string(rs)
}

// digits returns n random decimal digits.
func (g *chineseGenerator) digits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + g.rng.IntN(10))
	}
	return string(b)
}

// mobile returns a mobile number no other customer has.
func (g *chineseGenerator) mobile() string {
	for {
		m := genMobilePrefixes[g.draw(g.t.mobileW)].prefix + g.digits(8)
		if _, taken := g.phones[m]; !taken {
			g.phones[m] = struct{}{}
			return m
		}
	}
}

// landline returns a number in the city no other customer has, written
// "0755-86001234".
func (g *chineseGenerator) landline(c *genCity) string {
	for {
		n := string(c.localFirst[g.rng.IntN(len(c.localFirst))]) + g.digits(c.localLen-1)
		if _, taken := g.phones[c.code+n]; !taken {
			g.phones[c.code+n] = struct{}{}
			return c.code + "-" + n
		}
	}
}

// romanised returns the toneless pinyin syllables of s.
func (g *chineseGenerator) romanised(s string) []string {
	return strings.Fields(pinyinKey(s, g.readings))
}

// email returns an address no other customer has, at the company's domain
// when domain is set, else at a free provider.
func (g *chineseGenerator) email(surname, given, domain string) string {
	sur := strings.Join(g.romanised(surname), "")
	giv := g.romanised(given)
	gv := strings.Join(giv, "")
	var ini string
	for _, s := range giv {
		ini += s[:1]
	}
	free := domain == ""
	if free {
		domain = genFreeMail[g.draw(g.t.freeMailW)].domain
	}
	var local string
	if domain == "qq.com" && g.chance(0.6) {
		local = fmt.Sprint(10000 + g.rng.IntN(3_000_000_000))
	} else {
		switch g.rng.IntN(6) {
		case 0:
			local = sur + gv
		case 1:
			local = sur + "." + gv
		case 2:
			local = gv + "." + sur
		case 3:
			local = sur[:1] + ini
		case 4:
			local = sur + ini
		default:
			local = gv + sur
		}
		if free && (len(local) < 6 || g.chance(0.85)) || g.chance(0.1) {
			// Short or plain names at free providers were taken long ago:
			// people add digits, a birth year most often.
			if g.chance(0.6) {
				local += fmt.Sprint(g.rng.IntN(100))
			} else {
				local += fmt.Sprint(1960 + g.rng.IntN(45))
			}
		}
	}
	addr := local + "@" + domain
	for {
		if _, taken := g.emails[addr]; !taken {
			g.emails[addr] = struct{}{}
			return addr
		}
		addr = local + fmt.Sprint(g.rng.IntN(1000)) + "@" + domain
	}
}

// companyDomain returns a web domain no other company has.
func (g *chineseGenerator) companyDomain(e *genEntity) string {
	brand := strings.Join(g.romanised(e.brand), "")
	var ini string
	for _, s := range g.romanised(e.core) {
		ini += s[:1]
	}
	stem := brand
	switch g.rng.IntN(4) {
	case 0:
		stem = ini
	case 1:
		stem = brand + []string{"tech", "group", "china", "cn"}[g.rng.IntN(4)]
	}
	tld := []string{".com", ".com", ".cn", ".com.cn", ".net"}[g.rng.IntN(5)]
	d := stem + tld
	for try := 0; ; try++ {
		if _, taken := g.domains[d]; !taken {
			g.domains[d] = struct{}{}
			return d
		}
		switch {
		case try == 0:
			d = e.city.initials + stem + tld
		case try == 1:
			d = stem + "-" + e.city.initials + tld
		default:
			d = stem + fmt.Sprint(g.rng.IntN(10000)) + tld
		}
	}
}

// site returns an address in the city: often a building other customers
// already use (popular towers and compounds far more often), otherwise a
// new one.
func (g *chineseGenerator) site(c *genCity, home bool) genSite {
	k := siteKey{c, home}
	sites := g.sites[k]
	if len(sites) > 0 && g.chance(0.5) {
		u := g.rng.Float64()
		return sites[int(float64(len(sites))*u*u)]
	}
	s := genSite{district: c.districts[g.rng.IntN(len(c.districts))], number: 1 + int(999*g.rng.Float64()*g.rng.Float64())}
	if g.chance(0.4) {
		s.road = genCommonRoads[g.draw(g.t.commonRoadW)]
	} else {
		s.road = string([]rune{g.t.roadChars[g.rng.IntN(len(g.t.roadChars))], g.t.roadChars[g.rng.IntN(len(g.t.roadChars))]}) +
			genRoadSuffixes[g.draw(g.t.roadSuffixW)].word
	}
	switch {
	case home:
		s.building = g.brandStem() + genHomeSuffixes[g.draw(g.t.homeW)]
	case g.chance(0.6):
		s.building = g.brandStem() + genOfficeSuffixes[g.draw(g.t.officeW)]
	}
	g.sites[k] = append(sites, s)
	return s
}

// brandStem is a two-character name for a building.
func (g *chineseGenerator) brandStem() string {
	if g.chance(0.5) {
		w := genBrandWords[g.draw(g.t.brandWordW)]
		if len([]rune(w)) == 2 {
			return w
		}
	}
	return string([]rune{g.t.brandChars[g.draw(g.t.brandCharW)], g.t.brandChars[g.draw(g.t.brandCharW)]})
}

// room returns the unit within a building.
func (g *chineseGenerator) room(home bool) string {
	if home {
		return fmt.Sprintf("%d栋%d单元%d%02d室", 1+g.rng.IntN(30), 1+g.rng.IntN(4), 1+g.rng.IntN(33), 1+g.rng.IntN(4))
	}
	floor := 1 + g.rng.IntN(40)
	switch g.rng.IntN(3) {
	case 0:
		return fmt.Sprintf("%d层", floor)
	case 1:
		return fmt.Sprintf("%d楼%d室", floor, floor*100+1+g.rng.IntN(30))
	}
	return fmt.Sprintf("%d室", floor*100+1+g.rng.IntN(30))
}

// company draws a company whose name no company of the same region has.
func (g *chineseGenerator) company() genEntity {
	e := genEntity{city: g.city(g.t.cityW)}
	for {
		e.brand = g.brand()
		e.core = e.brand + genIndustries[g.draw(g.t.industryW)].word
		e.legal = g.t.legal[g.draw(g.t.legalW)]
		switch x := g.rng.Float64(); {
		case x < 0.82:
			e.region, e.prefix = e.city.name, e.city.name+"市"
			if g.chance(0.3) {
				e.prefix = e.city.name
			}
		case x < 0.94:
			e.region, e.prefix = e.city.provinceShort, e.city.provinceShort
			if g.chance(0.3) && !e.city.municipality {
				e.prefix = e.city.province
			}
		default:
			e.region, e.prefix = "", ""
		}
		key := e.region + "|" + e.core
		if _, taken := g.companies[key]; taken {
			continue
		}
		if c := NormaliseCompany(e.registered()); c.Core != e.core {
			continue // the name would not read as registered, e.g. "中山" at the start
		}
		g.companies[key] = struct{}{}
		break
	}
	e.domain = g.companyDomain(&e)
	g.contact(&e)
	if g.chance(0.5) {
		e.landline = g.landline(e.city)
		e.useLandline = g.chance(0.4)
	}
	e.site, e.room = g.site(e.city, false), g.room(false)
	return e
}

// contact gives the company a contact person with a mobile number and an
// e-mail address, at the company's domain or a free provider.
func (g *chineseGenerator) contact(e *genEntity) {
	e.surname, e.given = g.person()
	e.mobile = g.mobile()
	domain := ""
	if g.chance(0.5) {
		domain = e.domain
	}
	e.email = g.email(e.surname, e.given, domain)
}

// private draws a private customer, who lives in a residential compound.
func (g *chineseGenerator) private() genEntity {
	e := genEntity{person: true, city: g.city(g.t.cityW)}
	e.surname, e.given = g.person()
	e.mobile = g.mobile()
	e.email = g.email(e.surname, e.given, "")
	e.site, e.room = g.site(e.city, true), g.room(true)
	return e
}

// branchOf returns a branch office of a company in another city: a
// different customer with its own contact, numbers and address.
func (g *chineseGenerator) branchOf(head genEntity) genEntity {
	b := head
	b.city = g.city(g.t.branchCityW)
	for b.city.name == head.city.name {
		b.city = g.city(g.t.branchCityW)
	}
	b.branch = b.city.name + "分公司"
	g.contact(&b)
	b.landline, b.useLandline = "", false
	if g.chance(0.5) {
		b.landline = g.landline(b.city)
		b.useLandline = g.chance(0.5)
	}
	b.site, b.room = g.site(b.city, false), g.room(false)
	return b
}

// fullWidth turns ASCII digits into full-width digits.
func fullWidth(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			r = r - '0' + '０'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// address writes the entity's address in full: province, city, district,
// road, number, building and room.
func (e *genEntity) address() string {
	a := e.city.province + e.city.full()
	if e.city.municipality {
		a = e.city.full()
	}
	return a + e.street(true)
}

// street writes the address from the district on.
func (e *genEntity) street(withRoom bool) string {
	s := e.site.district + e.site.road + fmt.Sprint(e.site.number) + "号" + e.site.building
	if withRoom {
		s += e.room
	}
	return s
}

// phone writes the number the customer gives: the company landline or the
// contact's mobile.
func (e *genEntity) phone() string {
	if e.useLandline && e.landline != "" {
		return e.landline
	}
	return e.mobile
}

// record writes an entity as a person would, with variations when vary.
func (g *chineseGenerator) record(e genEntity, vary bool) []string {
	company, name, phone, email, address := e.registered(), e.surname+e.given, e.phone(), e.email, e.address()
	if !vary {
		return []string{company, name, phone, email, address}
	}
	if !e.person {
		company = g.varyCompany(e)
		if g.chance(0.04) {
			// Another contact person of the same company.
			s, gv := g.person()
			phone, email = g.mobile(), ""
			if e.landline != "" && g.chance(0.5) {
				phone = e.landline
			}
			if g.chance(0.4) {
				email = g.email(s, gv, e.domain)
			}
			return []string{company, g.varyName(s, gv, false), g.varyPhone(phone), email, g.varyAddress(e)}
		}
	}
	name = g.varyName(e.surname, e.given, e.person)
	phone = g.varyPhone(phone)
	switch x := g.rng.Float64(); {
	case x < 0.08:
		email = strings.ToUpper(email)
	case x < 0.11:
		email = g.typo(email, false)
	case x < 0.45:
		email = ""
	}
	address = g.varyAddress(e)
	if e.person && phone == "" && email == "" && address == "" {
		phone = e.phone() // a private customer's record keeps something to know them by
	}
	return []string{company, name, phone, email, address}
}

// varyCompany writes the company's name as people do: the region dropped,
// bracketed or written with 市, the legal form dropped or confused, the
// 字号 typed through a homophone.
func (g *chineseGenerator) varyCompany(e genEntity) string {
	region := e.region
	if region == "" {
		region = e.city.name
	}
	core, legal := e.core, e.legal
	switch x := g.rng.Float64(); {
	case x < 0.04:
		core = g.homophone(e.brand) + strings.TrimPrefix(e.core, e.brand)
	case x < 0.06:
		core = e.brand // the industry left out: "华腾有限公司"
	}
	switch x := g.rng.Float64(); {
	case x < 0.05 && legal == "有限公司":
		legal = "有限责任公司"
	case x < 0.05:
		legal = "有限公司"
	}
	if e.branch != "" {
		switch g.rng.IntN(4) {
		case 0:
			return core + legal + e.branch
		case 1:
			return region + core + e.branch
		case 2:
			return core + e.branch
		}
		return e.prefix + core + legal + e.branch
	}
	switch x := g.rng.Float64(); {
	case x < 0.3:
		return e.prefix + core + legal
	case x < 0.4:
		return core + "(" + region + ")" + legal
	case x < 0.48:
		return core + "（" + region + "）" + legal
	case x < 0.58:
		return e.city.full() + core + legal // the city written even when the name has none or a province
	case x < 0.72:
		return e.prefix + core // the legal form left out
	case x < 0.82:
		return core + legal
	case x < 0.9:
		return core // the short name: "华腾科技"
	case x < 0.95:
		return region + " " + core + " " + legal
	}
	return region + core + legal
}

// varyName writes a person's name: homophones, a title instead of the
// given name, spaces, pinyin, or nothing.
func (g *chineseGenerator) varyName(surname, given string, private bool) string {
	x := g.rng.Float64()
	if private {
		x *= 0.6 // a private customer's name is rarely left out or replaced by a title
	}
	switch {
	case x < 0.42:
		return surname + given
	case x < 0.58:
		return surname + g.homophone(given)
	case x < 0.62:
		return surname + " " + given
	case x < 0.64:
		ps := g.romanised(surname + given)
		if len(ps) < 2 {
			return surname + given
		}
		sur := len(g.romanised(surname))
		word := func(ss []string) string { return strings.ToUpper(ss[0][:1]) + strings.Join(ss, "")[1:] }
		return word(ps[:sur]) + " " + word(ps[sur:])
	case x < 0.82:
		return surname + genContactTitles[g.rng.IntN(len(genContactTitles))]
	}
	return ""
}

// homophone replaces one character of s by another with the same sound.
func (g *chineseGenerator) homophone(s string) string {
	rs := []rune(s)
	for _, i := range g.rng.Perm(len(rs)) {
		if hs := g.t.homophones[rs[i]]; len(hs) > 0 {
			rs[i] = hs[g.rng.IntN(len(hs))]
			return string(rs)
		}
	}
	return s
}

// typo changes one character of s: a neighbouring digit or letter, or two
// swapped. Only digits change when digitsOnly is set.
func (g *chineseGenerator) typo(s string, digitsOnly bool) string {
	b := []byte(s)
	var pos []int
	for i, c := range b {
		if c >= '0' && c <= '9' || !digitsOnly && c >= 'a' && c <= 'z' {
			pos = append(pos, i)
		}
	}
	if len(pos) < 3 {
		return s
	}
	i := pos[2+g.rng.IntN(len(pos)-2)] // the first digits (the prefix) are rarely mistyped
	if g.chance(0.5) {
		if j := i + 1; j < len(b) && b[j] != b[i] && (b[j] >= '0' && b[j] <= '9') == (b[i] >= '0' && b[i] <= '9') {
			b[i], b[j] = b[j], b[i]
			return string(b)
		}
	}
	if b[i] >= '0' && b[i] <= '9' {
		b[i] = byte('0' + (int(b[i]-'0')+1+g.rng.IntN(9))%10)
	} else {
		b[i] = byte('a' + (int(b[i]-'a')+1+g.rng.IntN(25))%26)
	}
	return string(b)
}

// varyPhone writes a number in one of the usual ways, mistyped now and
// then, or leaves it out.
func (g *chineseGenerator) varyPhone(p string) string {
	if g.chance(0.17) {
		return ""
	}
	if g.chance(0.04) {
		p = g.typo(p, true)
	}
	if code, local, ok := strings.Cut(p, "-"); ok { // a landline
		switch g.rng.IntN(9) {
		case 0:
			return "(" + code + ")" + local
		case 1:
			return code + " " + local[:4] + " " + local[4:]
		case 2:
			return "+86 " + code[1:] + " " + local
		case 3:
			return code + local
		case 4:
			return local // the area code left out, as for a local call
		case 5:
			return p + "转" + fmt.Sprint(800+g.rng.IntN(200))
		case 6:
			return fullWidth(p)
		}
		return p
	}
	switch g.rng.IntN(9) {
	case 0:
		return "+86 " + p[:3] + "-" + p[3:7] + "-" + p[7:]
	case 1:
		return "0086" + p
	case 2:
		return fullWidth(p)
	case 3:
		return p[:3] + " " + p[3:7] + " " + p[7:]
	case 4:
		return p[:3] + "-" + p[3:7] + "-" + p[7:]
	case 5:
		return "+86" + p
	}
	return p
}

// varyAddress writes the address with or without province and city, with
// spaces or full-width digits, without the room or the building, or not
// at all.
func (g *chineseGenerator) varyAddress(e genEntity) string {
	province := e.city.province
	if g.chance(0.3) {
		province = e.city.provinceShort
	}
	if e.city.municipality {
		province = ""
	}
	switch x := g.rng.Float64(); {
	case x < 0.2:
		return e.address()
	case x < 0.32:
		return e.city.full() + e.street(true)
	case x < 0.44:
		return e.street(true)
	case x < 0.52:
		return province + e.city.full() + " " + e.site.district + " " + e.site.road + fmt.Sprint(e.site.number) + "号 " + e.site.building + e.room
	case x < 0.59:
		return fullWidth(e.city.full() + e.street(true))
	case x < 0.7:
		return e.city.full() + e.street(false)
	case x < 0.75:
		return e.site.district + e.site.road + fmt.Sprint(e.site.number) + "号"
	case x < 0.8:
		return province + e.city.name + e.street(true) // 市 left out
	}
	return ""
}

// dataset returns n entities' records with duplicates and branch offices;
// truth[i] names the real customer of record i. One customer in seven is
// a private person, the others companies; one company in ten has a branch
// office in another city, itself a customer.
func (g *chineseGenerator) dataset(n int) (recs []Record, truth []string) {
	add := func(e genEntity, id string) {
		copies := 1
		if g.rng.IntN(3) == 0 {
			copies += 1 + g.rng.IntN(3)
		}
		for c := range copies {
			recs = append(recs, Record{ID: fmt.Sprintf("%s-%d", id, c), Values: g.record(e, c > 0)})
			truth = append(truth, id)
		}
	}
	for i := range n {
		id := fmt.Sprint(i)
		if g.chance(1.0 / 7) {
			add(g.private(), id)
			continue
		}
		e := g.company()
		add(e, id)
		if g.rng.IntN(10) == 0 {
			add(g.branchOf(e), id+"-branch")
		}
	}
	return recs, truth
}
