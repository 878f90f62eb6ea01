package dedupe

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// chineseGenerator makes realistic Chinese customer records and their
// duplicates as people type them, with known answers.
type chineseGenerator struct {
	rng *rand.Rand
}

func newChineseGenerator(seed uint64) *chineseGenerator {
	return &chineseGenerator{rng: rand.New(rand.NewPCG(seed, seed*7+1))}
}

var (
	genSurnames   = []rune("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤单区仇查")
	genGiven      = []rune("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国文辉鹏飞斌宇浩凯琳晨雪婷欣怡佳俊鑫波宁")
	genHomophones = map[rune][]rune{'伟': []rune("薇维炜"), '芳': []rune("方舫"), '静': []rune("婧靖"), '丽': []rune("莉俐"), '军': []rune("君钧"),
		'明': []rune("鸣铭"), '华': []rune("桦骅"), '红': []rune("宏虹"), '杰': []rune("洁"), '娟': []rune("鹃"), '涛': []rune("韬"), '敏': []rune("闵"),
		'强': []rune("蔷"), '磊': []rune("蕾"), '勇': []rune("咏"), '艳': []rune("燕"), '超': []rune("潮"), '玉': []rune("钰"), '辉': []rune("晖"),
		'鹏': []rune("朋"), '飞': []rune("菲"), '斌': []rune("彬"), '宇': []rune("雨"), '浩': []rune("昊"), '凯': []rune("恺"), '琳': []rune("林"),
		'晨': []rune("辰"), '婷': []rune("亭"), '欣': []rune("馨"), '怡': []rune("仪"), '俊': []rune("骏"), '波': []rune("博"), '宁': []rune("凝")}
	genWordChars = []rune("华腾信达安恒泰通盛鑫源创新宏远博宇瑞丰嘉诚东方天成海辰云启明星光汇智联科正德")
	genIndustry  = []string{"科技", "信息技术", "网络科技", "贸易", "电子", "医药", "物流", "建设工程", "文化传媒", "食品", "机械设备", "教育咨询"}
	genLegal     = []string{"有限公司", "有限公司", "有限责任公司", "股份有限公司"}
	genRegions   = [][2]string{{"北京", "北京"}, {"上海", "上海"}, {"广东", "深圳"}, {"广东", "广州"}, {"浙江", "杭州"}, {"江苏", "南京"}, {"四川", "成都"}, {"湖北", "武汉"}}
	genDistricts = []string{"朝阳区", "海淀区", "浦东新区", "南山区", "天河区", "西湖区", "鼓楼区", "武侯区", "江汉区", "福田区"}
	genRoads     = []string{"建国路", "科技园路", "中山路", "人民路", "解放大道", "南京西路", "学院路", "长江路", "文一路", "滨江大道"}
	genDomains   = []string{"163.com", "qq.com", "126.com", "sina.com", "gmail.com"}
)

// genEntity is one real customer.
type genEntity struct {
	region, city, core, legal string
	surname                   rune
	given                     []rune
	mobile                    string
	district, road            string
	number                    int
	email                     string
}

func (g *chineseGenerator) pick(rs []rune) rune { return rs[g.rng.IntN(len(rs))] }

func (g *chineseGenerator) entity() genEntity {
	reg := genRegions[g.rng.IntN(len(genRegions))]
	core := string([]rune{g.pick(genWordChars), g.pick(genWordChars)})
	if g.rng.IntN(3) == 0 {
		core += string(g.pick(genWordChars))
	}
	core += genIndustry[g.rng.IntN(len(genIndustry))]
	given := []rune{g.pick(genGiven)}
	if g.rng.IntN(2) == 0 {
		given = append(given, g.pick(genGiven))
	}
	e := genEntity{region: reg[0], city: reg[1], core: core, legal: genLegal[g.rng.IntN(len(genLegal))],
		surname: g.pick(genSurnames), given: given,
		mobile:   fmt.Sprintf("1%d%09d", 3+g.rng.IntN(7), g.rng.IntN(1_000_000_000)),
		district: genDistricts[g.rng.IntN(len(genDistricts))], road: genRoads[g.rng.IntN(len(genRoads))],
		number: 1 + g.rng.IntN(999)}
	e.email = fmt.Sprintf("%s%d@%s", strings.ReplaceAll(PinyinKey(string(e.surname)+string(e.given)), " ", ""), g.rng.IntN(1000), genDomains[g.rng.IntN(len(genDomains))])
	return e
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

// record writes an entity as a person would, with variations when vary.
func (g *chineseGenerator) record(e genEntity, vary bool) []string {
	city := e.city
	company := city + e.core + e.legal
	name := string(e.surname) + string(e.given)
	phone := e.mobile
	address := e.region + "省" + e.city + "市" + e.district + e.road + fmt.Sprint(e.number) + "号"
	if e.region == e.city {
		address = e.city + "市" + e.district + e.road + fmt.Sprint(e.number) + "号"
	}
	email := e.email
	if !vary {
		return []string{company, name, phone, email, address}
	}
	switch g.rng.IntN(4) {
	case 0:
		company = e.core + "(" + city + ")" + e.legal
	case 1:
		company = e.core + "（" + city + "）" + e.legal
	case 2:
		company = city + "市" + e.core + e.legal
	}
	switch g.rng.IntN(5) {
	case 0:
		phone = "+86 " + phone[:3] + "-" + phone[3:7] + "-" + phone[7:]
	case 1:
		phone = "0086" + phone
	case 2:
		phone = fullWidth(phone)
	case 3:
		phone = ""
	}
	given := []rune(string(e.given))
	switch g.rng.IntN(4) {
	case 0:
		if hs, ok := genHomophones[given[0]]; ok {
			given[0] = hs[g.rng.IntN(len(hs))]
		}
	case 1:
		name = string(e.surname) + []string{"总", "经理", "先生", "女士"}[g.rng.IntN(4)]
		given = nil
	}
	if given != nil {
		name = string(e.surname) + string(given)
	}
	switch g.rng.IntN(4) {
	case 0:
		address = e.district + e.road + fullWidth(fmt.Sprint(e.number)) + "号"
	case 1:
		address = e.city + " " + e.district + " " + e.road + fmt.Sprint(e.number) + "号"
	case 2:
		address = ""
	}
	switch g.rng.IntN(3) {
	case 0:
		email = strings.ToUpper(email)
	case 1:
		email = ""
	}
	return []string{company, name, phone, email, address}
}

// dataset returns n entities' records with duplicates and branch offices;
// truth[i] names the real customer of record i.
func (g *chineseGenerator) dataset(n int) (recs []Record, truth []string) {
	for i := range n {
		e := g.entity()
		id := fmt.Sprint(i)
		copies := 1
		if g.rng.IntN(3) == 0 {
			copies += 1 + g.rng.IntN(3)
		}
		for c := range copies {
			recs = append(recs, Record{ID: fmt.Sprintf("%d-%d", i, c), Values: g.record(e, c > 0)})
			truth = append(truth, id)
		}
		if g.rng.IntN(10) == 0 {
			// A branch office: same company, a different customer.
			v := g.record(e, false)
			v[0] = e.city + e.core + e.legal + []string{"上海分公司", "广州分公司", "成都分公司"}[g.rng.IntN(3)]
			v[1] = string(g.pick(genSurnames)) + string(g.pick(genGiven))
			v[2] = fmt.Sprintf("1%d%09d", 3+g.rng.IntN(7), g.rng.IntN(1_000_000_000))
			v[3], v[4] = "", ""
			recs = append(recs, Record{ID: fmt.Sprintf("%d-branch", i), Values: v})
			truth = append(truth, id+"-branch")
		}
	}
	return recs, truth
}
