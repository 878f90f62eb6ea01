package dedupe

import (
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/mozillazg/go-pinyin"
)

// Chinese forms of address written after a name ("李先生", "王总"), longest
// first so "总经理" is removed before "经理" and "总".
var chineseTitles = []string{
	"副总经理", "总经理", "董事长", "副总裁", "总裁", "总监", "经理", "主任", "主管", "老板",
	"先生", "女士", "小姐", "太太", "夫人", "老师", "教授", "博士", "医生", "律师", "会计", "工程师", "总", "工",
}

// Western honorifics dropped wherever they appear, and generational
// suffixes and degrees dropped at the end.
var westernHonorifics = map[string]bool{
	"mr": true, "mrs": true, "ms": true, "miss": true, "mx": true, "dr": true, "prof": true,
	"professor": true, "sir": true, "dame": true, "madam": true, "rev": true, "mister": true,
}

var westernSuffixes = map[string]bool{
	"jr": true, "sr": true, "ii": true, "iii": true, "iv": true, "phd": true, "md": true, "esq": true,
}

// NormaliseName returns a person's name in a canonical form for matching.
//
// Chinese names lose spaces, punctuation (including the middle dot of
// transliterated names) and forms of address written after the name, so
// "李 伟 先生" and "李伟" both become "李伟" and "王总" becomes "王". Western
// names are folded, lose punctuation, honorifics (Mr, Mrs, Dr, Prof ...) and
// generational suffixes (Jr, III ...), and "Last, First" is turned into
// "first last", so "Dr. SMITH, John Jr." becomes "john smith". Initials are
// kept as one-letter words; comparators match them against full words.
func NormaliseName(s string) string {
	f := Fold(s)
	if f == "" {
		return ""
	}
	if hasHan(f) {
		f = simplifyFolded(f, "")
		f = strings.ReplaceAll(f, " ", "")
		for changed := true; changed; {
			changed = false
			for _, t := range chineseTitles {
				if rest, ok := strings.CutSuffix(f, t); ok && rest != "" {
					f, changed = rest, true
					break
				}
			}
		}
		return f
	}
	if last, first, ok := strings.Cut(f, ","); ok && !strings.Contains(first, ",") && strings.TrimSpace(first) != "" {
		f = first + " " + last
	}
	words := strings.Fields(simplifyFolded(f, "'"))
	out := words[:0]
	for i, w := range words {
		w = strings.ReplaceAll(w, "'", "")
		if w == "" || westernHonorifics[w] || (i > 0 && westernSuffixes[w]) {
			continue
		}
		out = append(out, w)
	}
	return strings.Join(out, " ")
}

// Readings of characters whose pronunciation as a surname differs from
// their most common reading ("单" is dan in words but shan as a name).
var surnameReadings = map[string]string{
	"单": "shan", "曾": "zeng", "解": "xie", "区": "ou", "仇": "qiu", "朴": "piao", "查": "zha",
	"盖": "ge", "乐": "yue", "缪": "miao", "覃": "qin", "员": "yun", "召": "shao", "秘": "bi",
	"句": "gou", "翟": "zhai", "种": "chong", "折": "she", "黑": "he", "繁": "po", "蕃": "pi",
	"重": "chong", "华": "hua", "任": "ren", "纪": "ji", "尉": "yu", "宁": "ning", "沈": "shen",
	"石": "shi", "牟": "mou", "薄": "bo", "长": "chang", "朝": "chao", "居": "ju", "适": "kuo",
	"藏": "zang", "隗": "wei", "郇": "xun", "眭": "sui", "殷": "yin", "过": "guo", "相": "xiang",
	"便": "pian", "台": "tai", "冼": "xian", "柏": "bai", "宿": "su", "应": "ying", "句龙": "goulong",
	"万俟": "moqi", "尉迟": "yuchi", "长孙": "zhangsun", "单于": "chanyu", "澹台": "tantai",
	"令狐": "linghu", "欧阳": "ouyang", "司马": "sima", "诸葛": "zhuge", "上官": "shangguan",
	"皇甫": "huangfu", "东方": "dongfang", "公孙": "gongsun", "慕容": "murong", "夏侯": "xiahou",
	"宇文": "yuwen", "司徒": "situ", "西门": "ximen", "独孤": "dugu", "呼延": "huyan",
}

// PinyinKey returns the toneless pinyin of a Chinese name with syllables
// separated by spaces, so homophones such as "李伟" and "李薇" share the key
// "li wei". The surname (one character, or a two-character compound such as
// 欧阳 or 万俟) is read as a surname: "单" is shan, "曾" zeng, "解" xie, "区"
// ou, "仇" qiu, "朴" piao, "查" zha. Characters without a reading are kept
// as they are. Names without Chinese characters are returned normalised by
// [NormaliseName].
func PinyinKey(name string) string { return pinyinKey(name, nil) }

// readingCache remembers the pinyin of characters already read: the
// library's lookup splits and restyles its table entry on every call,
// which costs more than the rest of normalising a record. A cache belongs
// to one goroutine.
type readingCache map[rune]reading

// sharedReadings is the reading cache of callers without one of their
// own (checks, one-off comparisons): safe for concurrent use, and bounded
// by the number of Chinese characters.
var sharedReadings sync.Map

// reading is a character's pinyin; ok is false when it has none.
type reading struct {
	pinyin string
	ok     bool
}

// pinyinKey is [PinyinKey] reading characters through cache (nil for
// none).
func pinyinKey(name string, cache readingCache) string {
	n := NormaliseName(name)
	if !hasHan(n) {
		return n
	}
	parts := make([]string, 0, utf8.RuneCountInString(n))
	rest := n
	if len(rest) > 0 {
		if _, size := utf8.DecodeRuneInString(rest); size < len(rest) {
			_, size2 := utf8.DecodeRuneInString(rest[size:])
			if r, ok := surnameReadings[rest[:size+size2]]; ok && size+size2 < len(rest) {
				parts = append(parts, r)
				rest = rest[size+size2:]
			}
		}
		if len(parts) == 0 {
			_, size := utf8.DecodeRuneInString(rest)
			if r, ok := surnameReadings[rest[:size]]; ok {
				parts = append(parts, r)
				rest = rest[size:]
			}
		}
	}
	args := pinyin.Args{Style: pinyin.Normal, Fallback: func(r rune, _ pinyin.Args) []string { return []string{string(r)} }}
	for _, r := range rest {
		if !isHan(r) {
			parts = append(parts, string(r))
			continue
		}
		rd, cached := cache[r]
		if !cached && cache == nil {
			if v, ok := sharedReadings.Load(r); ok {
				rd, cached = v.(reading), true
			}
		}
		if !cached {
			if p := pinyin.SinglePinyin(r, args); len(p) > 0 {
				rd = reading{pinyin: p[0], ok: true}
			}
			if cache != nil {
				cache[r] = rd
			} else {
				sharedReadings.Store(r, rd)
			}
		}
		if rd.ok {
			parts = append(parts, rd.pinyin)
		}
	}
	return strings.Join(parts, " ")
}
