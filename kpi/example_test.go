package kpi_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/kpi"
	"github.com/crmkit/crmkit/store/memstore"
)

// A month of leads from two sources in Shanghai, cut into months: a lead
// created at 23:30 UTC on 31 January is a February lead in Shanghai.
func Example() {
	ctx := context.Background()
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	clock := crmtest.NewClock(time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC))
	store := memstore.New(&memstore.Config{Clock: clock})
	ids := crmtest.NewIDs()
	add := func(at time.Time, source string, converted bool) {
		clock.Set(at)
		l := crmtest.Lead(ids, func(l *crm.Lead) {
			l.Source = source
			if converted {
				l.Status, l.ConvertedCustomerID = crm.LeadConverted, ids.NewID()
			}
		})
		if err := store.Leads().Create(ctx, l); err != nil {
			panic(err)
		}
	}
	add(time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC), "web_form", true)
	add(time.Date(2026, 1, 12, 9, 0, 0, 0, time.UTC), "web_form", false)
	add(time.Date(2026, 1, 31, 23, 30, 0, 0, time.UTC), "trade_fair", true)

	svc, err := kpi.New(store)
	if err != nil {
		panic(err)
	}
	r, err := svc.Report(ctx, kpi.Request{Period: crm.Period{
		From: time.Date(2026, 1, 1, 0, 0, 0, 0, shanghai), To: time.Date(2026, 3, 1, 0, 0, 0, 0, shanghai),
		Bucket: crm.BucketMonth, Location: shanghai,
	}})
	if err != nil {
		panic(err)
	}
	for _, row := range r.Leads {
		fmt.Printf("%s %-10s created %d converted %d rate %.2f\n", row.Bucket.Format("2006-01"), row.Source, row.Created, row.Converted, row.ConversionRate())
	}

	// Daily buckets over twenty years are refused, naming the field.
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, shanghai)
	_, err = svc.Report(ctx, kpi.Request{Period: crm.Period{From: from, To: from.AddDate(20, 0, 0), Bucket: crm.BucketDay, Location: shanghai}})
	var ve *crm.ValidationError
	fmt.Println(errors.As(err, &ve), ve.Field)
	// Output:
	// 2026-01 web_form   created 2 converted 1 rate 0.50
	// 2026-02 trade_fair created 1 converted 1 rate 1.00
	// true period.bucket
}
