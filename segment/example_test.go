package segment_test

import (
	"context"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/segment"
	"github.com/crmkit/crmkit/store/memstore"
)

// Three customers won deals; Compute scores them, and a rule selects the
// tagged customers among the best segments.
func Example() {
	ctx := context.Background()
	clock := crmtest.NewClock(time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC))
	store := memstore.New(&memstore.Config{Clock: clock})
	ids := crmtest.NewIDs()
	names := []string{"Acme", "Globex", "Initech"}
	for i, name := range names {
		c := crmtest.Customer(ids, func(c *crm.Customer) { c.Name, c.Tags = name, []string{"VIP"} })
		if err := store.Customers().Create(ctx, c); err != nil {
			panic(err)
		}
		for d := 0; d <= i; d++ {
			closed := clock.Now().AddDate(0, 0, -30*(2-i))
			o := crmtest.Opportunity(ids, c.ID, func(o *crm.Opportunity) { o.Stage, o.ClosedAt = crm.StageWon, &closed })
			if err := store.Opportunities().Create(ctx, o); err != nil {
				panic(err)
			}
		}
	}
	svc, err := segment.New(store, &segment.Config{Clock: clock})
	if err != nil {
		panic(err)
	}
	n, err := svc.Compute(ctx, segment.ComputeRequest{Currency: "CNY", Rates: segment.Rates{"USD": decimal.NewFromInt(7)}})
	fmt.Println("scored:", n, err)

	seg, err := segment.Parse([]byte(`{"id": "best_vips", "when": {"all": [
		{"field": "tags", "equals": "vip"},
		{"field": "rfm_segment", "in": ["champions", "loyal", "potential_loyalists"]}]}}`))
	if err != nil {
		panic(err)
	}
	fmt.Println("tested per row:", seg.Plan().PerRow)
	page, err := svc.Members(ctx, segment.MembersRequest{Segment: seg})
	if err != nil {
		panic(err)
	}
	for _, m := range page.Items {
		fmt.Println(m.Customer.Name, m.Score.R, m.Score.F, m.Score.M, m.Score.Segment)
	}

	_, err = segment.Parse([]byte(`{"id": "x", "when": {"all": [{"field": "tags", "equals": "vip"}, {"field": "colour", "equals": "red"}]}}`))
	fmt.Println(err)
	// Output:
	// scored: 3 <nil>
	// tested per row: false
	// Initech 4 4 4 loyal
	// invalid when.all[1].field: unknown field "colour"; want one of name, kind, level, industry, region, source, status, phone, email, address, website, owner_id, …, fields.<name>
}
