package dedupe

import (
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestFold(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"  ＡＢＣ１２３  ", "abc123"},
		{"Hello\t\n  World", "hello world"},
		{"华腾　科技", "华腾 科技"},
		{"", ""},
	}
	for _, c := range cases {
		require.Equal(t, c.want, Fold(c.in), c.in)
	}
	require.Equal(t, "o brien smith ltd", Simplify("O'Brien-Smith, Ltd."))
}

func TestNormaliseName(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"李 伟 先生", "李伟"},
		{"王总", "王"},
		{"张经理", "张"},
		{"刘总经理", "刘"},
		{"陈女士", "陈"},
		{"阿沛·阿旺晋美", "阿沛阿旺晋美"},
		{"Dr. SMITH, John Jr.", "john smith"},
		{"Mr J. O'Brien", "j obrien"},
		{"ＪＯＨＮ　ＳＭＩＴＨ", "john smith"},
		{"", ""},
	}
	for _, c := range cases {
		require.Equal(t, c.want, NormaliseName(c.in), c.in)
	}
}

func TestPinyinKey(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"李伟", "li wei"},
		{"李薇", "li wei"},
		{"单雄信", "shan xiong xin"},
		{"曾国藩", "zeng guo fan"},
		{"解缙", "xie jin"},
		{"区志强", "ou zhi qiang"},
		{"仇英", "qiu ying"},
		{"朴槿惠", "piao jin hui"},
		{"查良镛", "zha liang yong"},
		{"欧阳修", "ouyang xiu"},
		{"万俟卨", "moqi xie"},
		{"John Smith", "john smith"},
	}
	for _, c := range cases {
		require.Equal(t, c.want, PinyinKey(c.in), c.in)
	}
}

func TestNormaliseCompany(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want Company
	}{
		{"华腾科技(北京)有限公司", Company{Core: "华腾科技", Region: "北京", Legal: "有限公司"}},
		{"北京华腾科技有限公司", Company{Core: "华腾科技", Region: "北京", Legal: "有限公司"}},
		{"北京市华腾科技有限责任公司", Company{Core: "华腾科技", Region: "北京", Legal: "有限责任公司"}},
		{"华腾科技（上海）股份有限公司", Company{Core: "华腾科技", Region: "上海", Legal: "股份有限公司"}},
		{"华腾科技集团有限公司", Company{Core: "华腾科技", Legal: "集团有限公司"}},
		{"北京华腾科技有限公司上海分公司", Company{Core: "华腾科技", Region: "北京", Legal: "有限公司", Branch: "上海分公司"}},
		{"北京华腾科技有限公司上海市分公司", Company{Core: "华腾科技", Region: "北京", Legal: "有限公司", Branch: "上海分公司"}},
		{"华腾科技上海分公司", Company{Core: "华腾科技", Branch: "上海分公司"}},
		{"The ACME Widgets Co., Ltd. (UK)", Company{Core: "acme widgets", Region: "uk", Legal: "co ltd"}},
		{"Siemens GmbH", Company{Core: "siemens", Legal: "gmbh"}},
		{"Smith & Sons LLC", Company{Core: "smith and sons", Legal: "llc"}},
		{"Inc", Company{Core: "inc"}},
		{"", Company{}},
	}
	for _, c := range cases {
		require.Equal(t, c.want, NormaliseCompany(c.in), c.in)
	}
	require.NotEqual(t, NormaliseCompany("北京华腾科技有限公司").Key(), NormaliseCompany("北京华腾科技有限公司上海分公司").Key(),
		"a branch is a different customer")
}

func TestNormalisePhone(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, region, want string }{
		{"+86 138-0013-8000", "", "+8613800138000"},
		{"13800138000", "CN", "+8613800138000"},
		{"0086 13800138000", "CN", "+8613800138000"},
		{"86 13800138000", "CN", "+8613800138000"},
		{"１３８ ００１３ ８０００", "CN", "+8613800138000"},
		{"010-8888 6666", "CN", "+861088886666"},
		{"(010) 88886666 转 8001", "CN", "+861088886666;ext=8001"},
		{"010-88886666-123", "CN", "+861088886666;ext=123"},
		{"0755-26888888", "CN", "+8675526888888"},
		{"+1 (415) 555-2671", "CN", "+14155552671"},
		{"(415) 555-2671 x12", "US", "+14155552671;ext=12"},
		{"02 9876 5432", "AU", "+61298765432"},
	}
	for _, c := range cases {
		p, err := NormalisePhone(c.in, c.region)
		require.NoError(t, err, c.in)
		require.Equal(t, c.want, p.String(), c.in)
	}
	for _, bad := range []string{"", "abc", "123", "+99 123"} {
		_, err := NormalisePhone(bad, "CN")
		require.Error(t, err, bad)
	}
}

func TestNormaliseEmail(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{" Li.Wei+crm@GMail.com ", "liwei@gmail.com"},
		{"li.wei@googlemail.com", "liwei@gmail.com"},
		{"Li.Wei+x@QQ.com", "li.wei+x@qq.com"},
		{"ｌｉｗｅｉ＠１６３．ｃｏｍ", "liwei@163.com"},
		{"<a b@example.com>", "ab@example.com"},
	}
	for _, c := range cases {
		require.Equal(t, c.want, NormaliseEmail(c.in), c.in)
	}
}

func TestNormaliseAddress(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"广东省深圳市南山区科技园路１号", "南山区科技园路1号"},
		{"深圳 南山区 科技园路1号", "南山区科技园路1号"},
		{"北京市朝阳区建国路88号", "朝阳区建国路88号"},
		{"435 S. La Cienega Boulevard", "435 s la cienega blvd"},
		{"12224 Ventura Blv.", "12224 ventura blvd"},
	}
	for _, c := range cases {
		require.Equal(t, c.want, NormaliseAddress(c.in), c.in)
	}
}

func TestNormaliseDate(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"19560409", "1956-04-09", "1956/4/9", "1956.04.09", "1956年4月9日", "09/04/1956", "1956-04-09T10:00:00+08:00", "１９５６-０４-０９"} {
		d, err := NormaliseDate(in)
		require.NoError(t, err, in)
		require.Equal(t, "1956-04-09", d, in)
	}
	for _, bad := range []string{"", "1956-02-30", "19561309", "hello", "1-2"} {
		_, err := NormaliseDate(bad)
		require.Error(t, err, bad)
	}
}

func FuzzNormalisers(f *testing.F) {
	for _, s := range []string{"华腾科技(北京)有限公司上海分公司", "+86 138-0013-8000 转 12", "Dr. Smith, John", "1956年4月9日",
		"李伟先生", "(", "）（", "分公司", "0086", "Li.Wei+x@gmail.com", "广东省深圳市", "\xff\xfe", "ext"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, out := range []string{Fold(s), Simplify(s), NormaliseName(s), PinyinKey(s), NormaliseEmail(s), NormaliseAddress(s), NormaliseCompany(s).Key()} {
			if !utf8.ValidString(out) {
				t.Fatalf("invalid UTF-8 from %q: %q", s, out)
			}
		}
		require.Equal(t, Fold(s), Fold(Fold(s)), "Fold is idempotent")
		if p, err := NormalisePhone(s, "CN"); err == nil {
			require.Equal(t, byte('+'), p.E164[0])
			p2, err := NormalisePhone(p.E164, "CN")
			require.NoError(t, err, "an E.164 result parses again")
			require.Equal(t, p.E164, p2.E164)
		}
		if d, err := NormaliseDate(s); err == nil {
			d2, err := NormaliseDate(d)
			require.NoError(t, err)
			require.Equal(t, d, d2)
		}
	})
}
