package dedupe

import (
	"strings"
	"unicode/utf8"
)

// Company is a company name split into the parts that matter for matching.
// Two records are the same customer when their Core agrees and their Branch
// agrees: a branch (分公司) is a different customer from its parent.
type Company struct {
	// Core is the distinctive part of the name: "华腾科技", "acme widgets".
	Core string
	// Region is the place named as a prefix or in brackets: "北京", "beijing".
	Region string
	// Legal is the legal form that was removed: "有限公司", "ltd".
	Legal string
	// Branch names a branch office: "上海分公司"; empty for the head office.
	Branch string
}

// Key returns the parts that identify the customer, "core" or
// "core#branch", the form kept by [Prepared] records.
func (c Company) Key() string {
	if c.Branch == "" {
		return c.Core
	}
	return c.Core + "#" + c.Branch
}

// Chinese legal forms, longest first.
var chineseLegalForms = []string{
	"集团股份有限公司", "集团有限责任公司", "集团有限公司", "股份有限公司", "有限责任公司", "有限合伙企业", "有限公司",
	"合伙企业", "股份公司", "集团公司", "控股集团", "集团", "公司", "个体工商户", "工作室", "事务所", "商行",
}

// Chinese words that end a branch name.
var chineseBranchWords = []string{"分公司", "分店", "分行", "支行", "办事处", "营业部", "分厂", "分部", "门店", "分所", "分院"}

var englishLegalForms = map[string]bool{
	"co": true, "company": true, "ltd": true, "limited": true, "inc": true, "incorporated": true,
	"corp": true, "corporation": true, "gmbh": true, "llc": true, "plc": true, "ag": true, "sa": true,
	"pty": true, "lp": true, "llp": true, "bv": true, "nv": true, "srl": true, "spa": true, "kg": true,
	"group": true, "holdings": true, "sarl": true, "oy": true, "ab": true, "as": true, "kk": true,
}

var regionSuffixes = []string{"特别行政区", "维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "自治州", "地区", "省", "市", "盟"}

// cutRegionPrefix removes a leading region name (with an optional 省/市
// suffix) from s and returns the region without its suffix.
func cutRegionPrefix(s string) (region, rest string) {
	r := longestRegionPrefix(s)
	if r == "" {
		return "", s
	}
	after := s[len(r):]
	if next, _ := utf8.DecodeRuneInString(after); strings.ContainsRune("区县旗镇乡村路街道", next) {
		return "", s // 朝阳区 is a district of Beijing, not the city of 朝阳
	}
	for _, suf := range regionSuffixes {
		if a, ok := strings.CutPrefix(after, suf); ok {
			after = a
			break
		}
	}
	return r, after
}

// asRegion reports whether s is exactly a region name, optionally with a
// suffix, and returns the bare name.
func asRegion(s string) (string, bool) {
	r, rest := cutRegionPrefix(s)
	return r, r != "" && rest == ""
}

// NormaliseCompany splits a company name into core, region, legal form and
// branch.
//
// Chinese names: full-width brackets and spaces are folded, a bracketed
// region ("华腾科技(北京)有限公司", "（上海）") or a leading region
// ("北京华腾科技有限公司", "北京市...") goes to Region, the legal form
// (有限公司, 有限责任公司, 股份有限公司, 集团 ...) to Legal, and a branch
// suffix such as "上海分公司" or "朝阳门店" to Branch. Both examples above
// have Core "华腾科技".
//
// English names: folded, punctuation removed, "&" read as "and", a leading
// "the" dropped, trailing legal forms (Co., Ltd., Inc., GmbH, LLC, Corp ...)
// moved to Legal and bracketed text to Region, so "The ACME Widgets Co.,
// Ltd. (UK)" has Core "acme widgets".
func NormaliseCompany(s string) Company {
	f := stripSpacesBetweenHan(Fold(s))
	if f == "" {
		return Company{}
	}
	var c Company
	// Bracketed parts: a region goes to Region, anything else stays in the name.
	var b strings.Builder
	for f != "" {
		i := strings.IndexAny(f, "([【〔")
		if i < 0 {
			b.WriteString(f)
			break
		}
		b.WriteString(f[:i])
		rest := f[i+1:]
		j := strings.IndexAny(rest, ")]】〕")
		if j < 0 {
			b.WriteString(rest)
			break
		}
		inner := strings.TrimSpace(rest[:j])
		if r, ok := asRegion(inner); ok && c.Region == "" {
			c.Region = r
		} else if !hasHan(inner) && c.Region == "" && inner != "" {
			c.Region = simplifyFolded(inner, "")
		} else {
			b.WriteString(" " + inner + " ")
		}
		f = rest[j+1:]
	}
	f = strings.TrimSpace(b.String())
	if hasHan(f) {
		f = strings.ReplaceAll(simplifyFolded(f, "&"), " ", "")
		c.Branch, f = cutBranch(f)
		for changed := true; changed; {
			changed = false
			for _, lf := range chineseLegalForms {
				if rest, ok := strings.CutSuffix(f, lf); ok && rest != "" {
					if c.Legal == "" {
						c.Legal = lf
					} else {
						c.Legal = lf + c.Legal
					}
					f, changed = rest, true
					break
				}
			}
		}
		if r, rest := cutRegionPrefix(f); r != "" && utf8.RuneCountInString(rest) >= 2 {
			if c.Region == "" {
				c.Region = r
			}
			f = rest
		}
		c.Core = f
		return c
	}
	words := strings.Fields(simplifyFolded(strings.ReplaceAll(f, "&", " and "), ""))
	if len(words) > 1 && leadingArticles[words[0]] {
		words = words[1:]
	}
	if len(words) > 1 && words[len(words)-1] == "the" {
		words = words[:len(words)-1] // a catalogue's "Palm, The"
	}
	end := len(words)
	for end > 1 && englishLegalForms[words[end-1]] {
		end--
	}
	c.Legal = strings.Join(words[end:], " ")
	c.Core = strings.Join(words[:end], " ")
	return c
}

// leadingArticles are dropped from the front of a Western company name:
// "The Palm" is "Palm", "Le Madri" is "Madri".
var leadingArticles = map[string]bool{"the": true, "le": true, "la": true, "les": true, "el": true, "il": true}

// cutBranch splits a trailing branch ("上海分公司", "第一分店") from a
// Chinese company name. The branch starts after the last legal form before
// the branch word, or at the region name right before it.
func cutBranch(f string) (branch, rest string) {
	for _, w := range chineseBranchWords {
		head, ok := strings.CutSuffix(f, w)
		if !ok || head == "" {
			continue
		}
		// "华腾科技有限公司上海分公司": the branch follows the legal form.
		best := -1
		for _, lf := range chineseLegalForms {
			if i := strings.LastIndex(head, lf); i >= 0 && i+len(lf) > best && i > 0 {
				best = i + len(lf)
			}
		}
		if best > 0 && best <= len(head) {
			place := head[best:]
			if r, ok := asRegion(place); ok {
				place = r
			}
			return place + w, head[:best]
		}
		// "华腾科技上海分公司": the branch is the region before the word.
		for _, suf := range append(regionSuffixes, "") {
			h, ok := strings.CutSuffix(head, suf)
			if !ok {
				continue
			}
			region, before := "", ""
			for r := range regionProvince {
				if hh, ok := strings.CutSuffix(h, r); ok && hh != "" && len(r) > len(region) {
					region, before = r, hh
				}
			}
			if region != "" {
				return region + w, before
			}
		}
		return w, head
	}
	return "", f
}
