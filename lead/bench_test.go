package lead_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/lead"
	"github.com/crmkit/crmkit/store/memstore"
	"github.com/shopspring/decimal"
)

// benchModel returns a realistic 30-criterion model: 20 fit rules over
// built-in and custom fields, 10 engagement rules over events, with decay,
// caps and stages.
func benchModel() string {
	var fit, eng []string
	industries := []string{"manufacturing", "retail", "logistics", "finance", "healthcare"}
	for i, ind := range industries {
		fit = append(fit, fmt.Sprintf(`{"id":"ind-%d","when":{"field":"industry","equals":%q},"points":%d}`, i, ind, 5+i))
	}
	fit = append(fit,
		`{"id":"region","when":{"field":"region","in":["cn-east","cn-south","cn-north"]},"points":10}`,
		`{"id":"size-s","when":{"field":"company_size","range":{"gte":10,"lte":49}},"points":5}`,
		`{"id":"size-m","when":{"field":"company_size","range":{"gte":50,"lte":499}},"points":10}`,
		`{"id":"size-l","when":{"field":"company_size","range":{"gte":500}},"points":15}`,
		`{"id":"director","when":{"field":"title","contains":"director"},"points":15}`,
		`{"id":"cxo","when":{"any":[{"field":"title","contains":"chief"},{"field":"title","equals":"ceo"}]},"points":20}`,
		`{"id":"intern","when":{"field":"title","contains":"intern"},"points":-15}`,
		`{"id":"freemail","when":{"field":"email","contains":"@gmail."},"points":-10}`,
		`{"id":"phone","when":{"field":"phone","exists":true},"points":5}`,
		`{"id":"referral","when":{"field":"source","equals":"referral"},"points":10}`,
		`{"id":"budget","when":{"field":"fields.budget","range":{"gte":10000}},"points":10}`,
		`{"id":"partner","when":{"field":"fields.partner","equals":true},"points":5}`,
		`{"id":"vip-tag","when":{"field":"tags","equals":"vip"},"points":5}`,
		`{"id":"east-big","when":{"all":[{"field":"region","equals":"cn-east"},{"field":"company_size","range":{"gte":200}}]},"points":5}`,
		`{"id":"competitor","when":{"field":"company","contains":"competitor"},"points":-50}`,
	)
	eng = append(eng,
		`{"id":"visits","when":{"event":{"kind":"web_visit","within_days":90}},"points_each":1,"max_points":15}`,
		`{"id":"clicks","when":{"event":{"kind":"email_click","within_days":30}},"points_each":3,"max_points":15}`,
		`{"id":"form","when":{"event":{"kind":"form_fill"}},"points":20}`,
		`{"id":"recent-visit","when":{"event":{"kind":"web_visit","within_days":7}},"points":10}`,
		`{"id":"many-visits","when":{"event":{"kind":"web_visit","min_count":5,"within_days":30}},"points":10}`,
		`{"id":"call","when":{"event":{"kind":"call","within_days":60}},"points":15}`,
		`{"id":"webinar","when":{"event":{"kind":"webinar"}},"points":10}`,
		`{"id":"demo","when":{"event":{"kind":"demo_request"}},"points":30}`,
		`{"id":"unsubscribe","when":{"event":{"kind":"unsubscribe"}},"points":-30}`,
		`{"id":"any-recent","when":{"event":{"kind":"*","within_days":3}},"points":5}`,
	)
	return `{"id":"bench","version":1,
	  "fit":{"cap":100,"groups":[{"name":"firmographics","cap":60,"rules":[` + strings.Join(fit[:9], ",") + `]},
	                           {"name":"person","rules":[` + strings.Join(fit[9:], ",") + `]}]},
	  "engagement":{"cap":100,"groups":[{"name":"activity","rules":[` + strings.Join(eng, ",") + `]}]},
	  "decay":{"half_life_days":30},
	  "stages":[{"stage":"sales_qualified","min_fit":50,"min_engagement":40},{"stage":"marketing_qualified","min_total":50},{"stage":"disqualified","max_total":-20}]}`
}

func benchLeads(n int) ([]crm.Lead, [][]lead.Engagement) {
	inds := []string{"manufacturing", "retail", "software", "finance", "education"}
	regions := []string{"cn-east", "cn-west", "cn-south", "us-west"}
	titles := []string{"Sales Director", "Intern", "CEO", "Engineer", "Chief Financial Officer"}
	kinds := []string{"web_visit", "email_click", "form_fill", "call", "webinar"}
	leads := make([]crm.Lead, n)
	events := make([][]lead.Engagement, n)
	for i := range leads {
		leads[i] = crm.Lead{
			Name: "Lead", Company: "Company", Industry: inds[i%len(inds)], Region: regions[i%len(regions)],
			Title: titles[i%len(titles)], CompanySize: (i * 37) % 1000, Email: "a@example.com", Source: "web_form",
			Fields: crm.Fields{"budget": crm.Number(decimal.NewFromInt(int64(i%40) * 1000)), "partner": crm.Bool(i%3 == 0)},
		}
		ev := make([]lead.Engagement, 10)
		for j := range ev {
			ev[j] = lead.Engagement{Kind: kinds[(i+j)%len(kinds)], At: t0.Add(-time.Duration((i*7+j*11)%120) * day)}
		}
		events[i] = ev
	}
	return leads, events
}

func BenchmarkModelScore(b *testing.B) {
	m := mustModel(b, benchModel())
	leads, events := benchLeads(64)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		k := i & 63
		_ = m.Score(&leads[k], events[k], t0)
	}
}

// BenchmarkModelScoreMillion scores 1,000,000 leads (a pool of 4,096
// distinct leads with 10 events each, cycled) per operation.
func BenchmarkModelScoreMillion(b *testing.B) {
	m := mustModel(b, benchModel())
	leads, events := benchLeads(4096)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for i := range 1_000_000 {
			k := i & 4095
			_ = m.Score(&leads[k], events[k], t0)
		}
	}
}

// BenchmarkModelScoreMillionParallel scores the same 1,000,000 leads split
// across GOMAXPROCS goroutines: a Model is immutable, so a batch rescoring
// uses every core without locks.
func BenchmarkModelScoreMillionParallel(b *testing.B) {
	m := mustModel(b, benchModel())
	leads, events := benchLeads(4096)
	workers := runtime.GOMAXPROCS(0)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < 1_000_000; i += workers {
					k := i & 4095
					_ = m.Score(&leads[k], events[k], t0)
				}
			}()
		}
		wg.Wait()
	}
}

func BenchmarkModelExplain(b *testing.B) {
	m := mustModel(b, benchModel())
	leads, events := benchLeads(64)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		k := i & 63
		_ = m.Explain(&leads[k], events[k], t0)
	}
}

// BenchmarkServiceScoreLead scores one stored lead with a stored
// 30-criterion model and saves its snapshot, on memstore: the cost around
// Model.Score of reading the lead and the model and writing the snapshot in
// one unit of work.
func BenchmarkServiceScoreLead(b *testing.B) {
	ctx := context.Background()
	clock := crmtest.NewClock(t0)
	ids := crmtest.NewIDs()
	store := memstore.New(&memstore.Config{Clock: clock})
	svc, err := lead.New(store, &lead.Config{Clock: clock, IDs: ids})
	if err != nil {
		b.Fatal(err)
	}
	if err := svc.SaveModel(ctx, mustModel(b, benchModel())); err != nil {
		b.Fatal(err)
	}
	leads, events := benchLeads(1)
	l := leads[0]
	l.ID = ids.NewID()
	if err := store.Leads().Create(ctx, &l); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.ScoreLead(ctx, lead.ScoreRequest{LeadID: l.ID, ModelID: "bench", Events: events[0]}); err != nil {
			b.Fatal(err)
		}
	}
}
