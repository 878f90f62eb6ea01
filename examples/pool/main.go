package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/crmkit/crmkit"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/pool"
	"github.com/crmkit/crmkit/store/memstore"
)

func main() {
	if err := run(context.Background()); err != nil {
		log.SetFlags(0)
		log.Print("pool: ", err)
		os.Exit(1)
	}
}

// eastJSON is the pool as a host would store it: anyone may claim, five
// claims per salesperson per day (Shanghai time), a 30-day cooldown for the
// previous owner, and customers nobody follows up for 15 days fall back.
const eastJSON = `{
  "id": "0196a8b0-0000-7000-8000-000000000001",
  "name": "East China",
  "time_zone": "Asia/Shanghai",
  "members": {"all": true},
  "limits": [{"kind": "daily_claims", "max": 5}],
  "previous_owner_cooldown_days": 30,
  "recycle": [{
    "id": "neglect-v1",
    "effective_from": "2026-01-01T00:00:00+08:00",
    "combine": "any",
    "conditions": [{"kind": "no_follow_up", "days": 15}],
    "exclude": {"dealt": true, "open_opportunity": true}
  }]
}`

// story holds what every step needs.
type story struct {
	ctx   context.Context
	clock *crmtest.Clock
	ids   crm.IDGenerator
	store *memstore.Store
	crm   *crmkit.CRM
	east  *pool.Pool
}

func run(ctx context.Context) error {
	// A fixed clock and sequential IDs keep the output the same on every run.
	clock := crmtest.NewClock(time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)) // Monday 09:00 in Shanghai
	s := &story{ctx: ctx, clock: clock, ids: crmtest.NewIDs(), store: memstore.New(&memstore.Config{Clock: clock})}
	c, err := crmkit.New(s.store, &crmkit.Config{Clock: clock, IDs: s.ids})
	if err != nil {
		return err
	}
	s.crm = c
	svc := c.Pools
	if s.east, err = pool.ParsePool([]byte(eastJSON)); err != nil {
		return err
	}
	if err := svc.CreatePool(ctx, s.east); err != nil {
		return err
	}
	wang, err := s.user("Wang Fang")
	if err != nil {
		return err
	}
	zhao, err := s.user("Zhao Lei")
	if err != nil {
		return err
	}
	li, err := s.user("Li Wei")
	if err != nil {
		return err
	}

	fmt.Println("1. Six companies wait in the East China pool; anyone may claim, five claims a day each.")
	names := []string{"杭州云帆贸易", "上海明达机械", "苏州恒通电子", "宁波海晨物流", "南京启航软件", "无锡新锐材料"}
	phones := []string{"13912340001", "13912340002", "13912340003", "13912340004", "13912340005", "13912340006"}
	customers := make([]*crm.Customer, len(names))
	for i := range names {
		if customers[i], err = s.pooled(names[i], phones[i]); err != nil {
			return err
		}
	}

	fmt.Println("\n2. Monday morning Wang Fang claims (领取) one after the other.")
	for _, c := range customers {
		res, err := svc.Claim(ctx, pool.ClaimRequest{Actor: wang.ID, CustomerID: c.ID})
		var le *crm.LimitError
		switch {
		case errors.As(err, &le) && le.Limit == string(pool.DailyClaims):
			fmt.Printf("   %s: refused: daily claim limit %d reached (%v)\n", c.Name, le.Max, err)
		case err != nil:
			return err
		default:
			fmt.Printf("   %s: now Wang Fang's, falls back on %s unless followed up\n", c.Name, s.date(res.Holding.DueAt))
		}
	}

	fmt.Println("\n3. Over the next days Wang Fang follows up on every customer except 杭州云帆贸易.")
	s.clock.Advance(3 * 24 * time.Hour)
	for _, c := range customers[1:5] {
		h, err := s.followUp(wang.ID, c.ID)
		if err != nil {
			return err
		}
		fmt.Printf("   %s: called, now falls back on %s\n", c.Name, s.date(h.DueAt))
	}

	s.clock.Advance(13 * 24 * time.Hour)
	fmt.Printf("\n4. %s: 16 days without a follow-up. The scheduler's dry run says:\n", s.date(s.clock.Now()))
	plan, err := svc.Plan(ctx, s.clock.Now(), 100)
	if err != nil {
		return err
	}
	for _, d := range plan {
		fmt.Printf("   would recycle %s from %s: %s (rule %s, due %s)\n", s.customerName(d.CustomerID), s.userName(d.OwnerID), d.Reason, d.RuleID, s.date(d.DueAt))
	}
	res, err := svc.Sweep(ctx, s.clock.Now(), 1000)
	if err != nil {
		return err
	}
	fmt.Printf("   the sweep recycled (回收) %d customer; 杭州云帆贸易 is back in the pool\n", res.Recycled)
	ledger, err := svc.Ledger(ctx, customers[0].ID, 0, 10)
	if err != nil {
		return err
	}
	last := ledger[len(ledger)-1]
	fmt.Printf("   ledger: %s by %s, from %s to pool %s, reason %s, rule %s\n",
		last.Op, s.actorName(last.ActorID), s.userName(last.FromOwner), s.east.Name, last.Reason, last.RuleID)

	fmt.Println("\n5. Wang Fang wants it back at once.")
	_, err = svc.Claim(ctx, pool.ClaimRequest{Actor: wang.ID, CustomerID: customers[0].ID})
	var ce *pool.CooldownError
	if !errors.As(err, &ce) {
		return fmt.Errorf("expected a cooldown, got %v", err)
	}
	fmt.Printf("   refused: previous owner may claim again from %s (%v)\n", s.date(ce.Until), err)
	if _, err := svc.Claim(ctx, pool.ClaimRequest{Actor: zhao.ID, CustomerID: customers[0].ID}); err != nil {
		return err
	}
	fmt.Println("   Zhao Lei claims it instead: now Zhao Lei's")

	fmt.Println("\n6. Li Wei meets the same company at a fair and enters it as a new customer.")
	again := crmtest.Customer(s.ids, func(c *crm.Customer) { c.Name, c.Phone = "云帆贸易(杭州)有限公司", phones[0] })
	_, err = svc.Create(ctx, pool.CreateRequest{Actor: li.ID, Customer: again})
	var col *pool.CollisionError
	if !errors.As(err, &col) {
		return fmt.Errorf("expected a collision, got %v", err)
	}
	who := "a colleague (not named to Li Wei)"
	if owner := col.Collisions[0].OwnerID; owner != crm.NilID {
		who = s.userName(owner)
	}
	fmt.Printf("   blocked (防撞单): the same company name and phone as a customer already owned by %s\n", who)
	fmt.Printf("   (%v)\n", err)
	st, err := svc.Status(ctx, zhao.ID, customers[0].ID)
	if err != nil {
		return err
	}
	fmt.Printf("   for Zhao Lei the customer is %q, falling back on %s\n", st.State, s.date(st.DueAt))
	return nil
}

// user stores a salesperson.
func (s *story) user(name string) (*crm.User, error) {
	u := crmtest.User(s.ids, func(u *crm.User) { u.Name = name })
	return u, s.store.Users().Create(s.ctx, u)
}

// pooled creates a customer as the system would on an import (checked
// for duplicates, its match keys stored) and enters it into the East China
// pool.
func (s *story) pooled(name, phone string) (*crm.Customer, error) {
	c := crmtest.Customer(s.ids, func(c *crm.Customer) { c.Name, c.Phone = name, phone })
	if _, err := s.crm.CreateCustomer(s.ctx, crmkit.CreateCustomerRequest{Customer: c}); err != nil {
		return nil, err
	}
	_, err := s.crm.Pools.Enter(s.ctx, pool.EnterRequest{CustomerID: c.ID, PoolID: s.east.ID})
	return c, err
}

// followUp records owner's follow-up on the customer, as the host's
// activity module would, and tells the pool so the due time moves: one
// unit of work, so the due time never lags the stored follow-up.
func (s *story) followUp(owner, id crm.ID) (*pool.Holding, error) {
	var h *pool.Holding
	err := s.crm.InTx(s.ctx, func(ctx context.Context, tx crm.Tx) error {
		c, err := tx.Customers().Get(ctx, id)
		if err != nil {
			return err
		}
		now := s.clock.Now()
		c.LastFollowUpAt = &now
		if _, err := s.crm.UpdateCustomerTx(ctx, tx, crmkit.UpdateCustomerRequest{Customer: c, Actor: owner}); err != nil {
			return err
		}
		h, err = s.crm.Pools.RecomputeTx(ctx, tx, id)
		return err
	})
	return h, err
}

// date prints a time as a Shanghai calendar day.
func (s *story) date(t time.Time) string {
	return t.In(shanghai).Format("Mon 2 Jan")
}

// shanghai is UTC+8 without a time zone database, so the output does not
// depend on the machine's tzdata.
var shanghai = time.FixedZone("CST", 8*60*60)

func (s *story) userName(id crm.ID) string {
	if id == crm.NilID {
		return "nobody"
	}
	u, err := s.store.Users().Get(s.ctx, id)
	if err != nil {
		return id.String()
	}
	return u.Name
}

func (s *story) actorName(id crm.ID) string {
	if id == crm.NilID {
		return "the system"
	}
	return s.userName(id)
}

func (s *story) customerName(id crm.ID) string {
	c, err := s.store.Customers().Get(s.ctx, id)
	if err != nil {
		return id.String()
	}
	return c.Name
}
