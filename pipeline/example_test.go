package pipeline_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/pipeline"
	"github.com/crmkit/crmkit/store/memstore"
)

const hardware = `{"pipelines": [{"key": "hardware", "stages": [
  {"name": "lead", "order": 1, "kind": "open", "probability": 10},
  {"name": "proposal", "order": 2, "kind": "open", "probability": 60, "required": ["amount"]},
  {"name": "won", "order": 3, "kind": "won", "probability": 100},
  {"name": "lost", "order": 4, "kind": "lost", "probability": 0, "lost_reasons": ["price", "competitor"]}]}]}`

// Example configures a pipeline, moves a deal through it and reads the
// funnel and the weighted pipeline.
func Example() {
	ctx := context.Background()
	clock := crmtest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	store := memstore.New(&memstore.Config{Clock: clock})
	set, err := pipeline.Load(strings.NewReader(hardware))
	if err != nil {
		panic(err)
	}
	svc, err := pipeline.New(store, &pipeline.Config{Catalog: pipeline.Tenants{"": set}, Clock: clock, IDs: crmtest.NewIDs()})
	if err != nil {
		panic(err)
	}
	seller := crm.ID{1}
	deal := &crm.Opportunity{CustomerID: crm.ID{2}, Name: "Servers", Pipeline: "hardware"}
	deal.ID = crm.ID{3}
	if err := svc.Start(ctx, deal, seller); err != nil {
		panic(err)
	}

	clock.Advance(48 * time.Hour)
	_, err = svc.Move(ctx, pipeline.MoveRequest{OpportunityID: deal.ID, To: "proposal", Actor: seller})
	fmt.Println(err)

	deal, _ = store.Opportunities().Get(ctx, deal.ID)
	deal.Amount, _ = crm.ParseMoney("50000 CNY")
	_ = store.Opportunities().Update(ctx, deal)
	deal, err = svc.Move(ctx, pipeline.MoveRequest{OpportunityID: deal.ID, To: "proposal", Actor: seller})
	fmt.Println(deal.Stage, deal.Probability, err)

	march := crm.Period{From: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), Bucket: crm.BucketMonth}
	funnel, _ := svc.Funnel(ctx, pipeline.ReportRequest{Pipeline: "hardware", Period: march})
	for _, st := range funnel.Stages {
		fmt.Printf("%-8s entered %d, conversion %.0f%%, median %s\n", st.Stage, st.Entered, st.Conversion*100, st.MedianTime)
	}
	value, _ := svc.Value(ctx, pipeline.ReportRequest{Pipeline: "hardware"})
	for _, v := range value.Total {
		fmt.Println("pipeline", v.Amount, "weighted", v.Weighted)
	}
	// Output:
	// pipeline: move 03000000-0000-0000-0000-000000000000: invalid amount: is required to enter stage "proposal"
	// proposal 60 <nil>
	// lead     entered 1, conversion 100%, median 48h0m0s
	// proposal entered 1, conversion 0%, median 0s
	// won      entered 0, conversion 0%, median 0s
	// lost     entered 0, conversion 0%, median 0s
	// pipeline 50000 CNY weighted 30000 CNY
}
