package dedupe_test

import (
	"fmt"

	"github.com/crmkit/crmkit/dedupe"
)

func ExampleNormalisePhone() {
	for _, s := range []string{"+86 138-0013-8000", "0086 13800138000", "(010) 8888 6666 转 8001"} {
		p, err := dedupe.NormalisePhone(s, "CN")
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(p)
	}
	// Output:
	// +8613800138000
	// +8613800138000
	// +861088886666;ext=8001
}

func ExampleNormaliseCompany() {
	for _, s := range []string{"华腾科技(北京)有限公司", "北京华腾科技有限公司", "北京华腾科技有限公司上海分公司"} {
		c := dedupe.NormaliseCompany(s)
		fmt.Printf("core=%s region=%s branch=%q\n", c.Core, c.Region, c.Branch)
	}
	// Output:
	// core=华腾科技 region=北京 branch=""
	// core=华腾科技 region=北京 branch=""
	// core=华腾科技 region=北京 branch="上海分公司"
}

func ExampleMatcher_Compare() {
	m, err := dedupe.NewMatcher(&dedupe.Config{Fields: []dedupe.Field{
		{Name: "company", Kind: dedupe.KindCompany},
		{Name: "contact", Kind: dedupe.KindName},
		{Name: "phone", Kind: dedupe.KindPhone},
	}})

	if err != nil {
		fmt.Println(err)
		return
	}
	d, err := m.Compare(
		dedupe.Record{ID: "a", Values: []string{"北京华腾科技有限公司", "李伟", "13800138000"}},
		dedupe.Record{ID: "b", Values: []string{"华腾科技(北京)有限公司", "李薇", "+86 138-0013-8000"}},
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(d.Class)
	for _, r := range d.Reasons {
		fmt.Println(r.Field, r.Level)
	}
	// Output:
	// match
	// company exact
	// contact close
	// phone exact
}

func ExampleMatcher_Cluster() {
	m, err := dedupe.NewMatcher(&dedupe.Config{Fields: []dedupe.Field{
		{Name: "company", Kind: dedupe.KindCompany},
		{Name: "phone", Kind: dedupe.KindPhone},
	}})

	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := m.Cluster(dedupe.Records([]dedupe.Record{
		{ID: "1", Values: []string{"北京华腾科技有限公司", "13800138000"}},
		{ID: "2", Values: []string{"华腾科技（北京）有限公司", "+86 138 0013 8000"}},
		{ID: "3", Values: []string{"北京华腾科技有限公司上海分公司", "021-5555 6666"}},
		{ID: "4", Values: []string{"Acme Widgets Ltd.", "+44 20 7946 0958"}},
	}), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, id := range res.IDs {
		fmt.Println(id, "->", res.ClusterID(i))
	}
	// Output:
	// 1 -> 1
	// 2 -> 1
	// 3 -> 3
	// 4 -> 4
}

func ExampleMatcher_Merge() {
	m, err := dedupe.NewMatcher(&dedupe.Config{Fields: []dedupe.Field{
		{Name: "company", Kind: dedupe.KindCompany},
		{Name: "phone", Kind: dedupe.KindPhone},
	}})

	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := m.Merge([]dedupe.MergeSource{
		{Record: dedupe.Record{ID: "1", Values: []string{"华腾科技", "13800138000"}}},
		{Record: dedupe.Record{ID: "2", Values: []string{"北京华腾科技有限公司", "+86 138 0013 8000"}}},
		{Record: dedupe.Record{ID: "3", Values: []string{"", "010-8888 6666"}}},
	}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, g := range res.Golden {
		fmt.Printf("%s: %s (from %s), %d other value(s)\n", g.Field, g.Value.Value, g.Value.From, len(g.Others))
	}
	fmt.Println("re-point:", res.LoserIDs, "to", res.SurvivorID)
	// Output:
	// company: 北京华腾科技有限公司 (from 2), 1 other value(s)
	// phone: 13800138000 (from 1), 1 other value(s)
	// re-point: [2 3] to 1
}

func ExampleIndex_Check() {
	m, err := dedupe.NewMatcher(&dedupe.Config{Fields: dedupe.CustomerFields()})
	if err != nil {
		fmt.Println(err)
		return
	}
	ix, err := dedupe.NewIndex(m, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = ix.Add(dedupe.Entry{Record: dedupe.Record{ID: "c-1", Values: []string{"北京华腾科技有限公司", "李伟", "13800138000", "", ""}}})
	cands, err := ix.Check(dedupe.Record{Values: []string{"华腾科技(北京)有限公司", "李薇", "+86 138-0013-8000", "", ""}})
	if err != nil {
		fmt.Println(err)
		return
	}
	action, best := dedupe.Policy{BlockScore: 10, WarnScore: 4}.Decide(cands)
	fmt.Println(action, best.ID, best.Class)
	// Output:
	// block c-1 match
}

// Explain says how a clustering run weighed a pair: here suburb, postcode
// and state describe one place and count once, and the names were written
// the other way round. (A two-record table makes every value common, so
// the example links from 5 bits rather than the default 10.)
func ExampleClustering_Explain() {
	m, err := dedupe.NewMatcher(&dedupe.Config{Region: "AU", MatchWeight: 5, Fields: []dedupe.Field{
		{Name: "given_name", Kind: dedupe.KindGivenName},
		{Name: "surname", Kind: dedupe.KindFamilyName},
		{Name: "suburb", Kind: dedupe.KindCity},
		{Name: "postcode", Kind: dedupe.KindPostcode},
		{Name: "state", Kind: dedupe.KindState},
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	recs := []dedupe.Record{
		{ID: "1", Values: []string{"thomas", "chudleigh", "st kilda", "3182", "vic"}},
		{ID: "2", Values: []string{"chudleigh", "thomas", "st kilda", "3182", "vic"}},
	}
	res, err := m.Cluster(dedupe.Records(recs), &dedupe.ClusterOptions{NoLearning: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	d, err := res.Explain(recs[0], recs[1])
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range d.Reasons {
		if r.Note == "" {
			fmt.Println(r.Field, r.Level)
			continue
		}
		fmt.Println(r.Field, r.Level, "-", r.Note)
	}
	fmt.Println("linked:", res.ClusterID(0) == res.ClusterID(1))
	// Output:
	// given_name exact - matched the other name field
	// surname exact - matched the other name field
	// suburb exact - counted once in its group
	// postcode exact
	// state exact - counted once in its group
	// linked: true
}
