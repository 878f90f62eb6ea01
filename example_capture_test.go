package crmkit_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/crmkit/crmkit"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/dedupe"
	"github.com/crmkit/crmkit/lead"
	"github.com/crmkit/crmkit/store/memstore"
)

// Lead capture checks a new lead against the open leads and the customers:
// under a blocking policy a colleague's lead of the same company refuses
// the capture, naming that the lead is held without naming by whom; under
// a warning policy the lead is stored and the duplicate reported.
func Example_leadCapture() {
	ctx := context.Background()
	clock := crmtest.NewClock(time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC))
	ids := crmtest.NewIDs()
	for _, policy := range []dedupe.Policy{{BlockScore: 10}, {WarnScore: 10}} {
		store := memstore.New(&memstore.Config{Clock: clock})
		sales := crmtest.Department(ids, "Sales", crm.NilID)
		liWei := crmtest.User(ids, func(u *crm.User) { u.Name, u.DepartmentID = "李伟", sales.ID })
		zhao := crmtest.User(ids, func(u *crm.User) { u.Name, u.DepartmentID = "赵磊", sales.ID })
		_ = store.Departments().Create(ctx, sales)
		_ = store.Users().Create(ctx, liWei)
		_ = store.Users().Create(ctx, zhao)
		c, err := crmkit.New(store, &crmkit.Config{Clock: clock, IDs: ids, CapturePolicy: &policy})
		if err != nil {
			fmt.Println(err)
			return
		}
		// 李伟 captures a lead from a trade show, once.
		first := &crm.Lead{Name: "王芳", Company: "北京华腾科技有限公司", Phone: "010-62345678", OwnerID: liWei.ID, DepartmentID: sales.ID}
		if _, err := c.Leads.Capture(ctx, lead.CaptureRequest{Lead: first, Actor: liWei.ID}); err != nil {
			fmt.Println(err)
			return
		}
		// 赵磊 types the same company another way.
		again := &crm.Lead{Name: "Wang Fang", Company: "华腾科技(北京)有限公司", Phone: "+86 10 6234 5678"}
		got, err := c.Leads.Capture(ctx, lead.CaptureRequest{Lead: again, Actor: zhao.ID})
		var blocked *lead.CaptureBlockedError
		switch {
		case errors.As(err, &blocked):
			d := blocked.Duplicates[0]
			fmt.Println("blocked: same company:", d.Strong, "owner hidden:", d.OwnerHidden)
		case err != nil:
			fmt.Println(err)
		default:
			fmt.Println(got.Decision, "about", len(got.Duplicates), "duplicate, a lead:", got.Duplicates[0].LeadID != crm.NilID)
		}
	}
	// Output:
	// blocked: same company: true owner hidden: true
	// warn about 1 duplicate, a lead: true
}
