package pool_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/pool"
	"github.com/crmkit/crmkit/store/memstore"
)

// demo is the setting of the examples: a memstore, a fake clock, a pool for
// East China and two salespeople.
type demo struct {
	ctx        context.Context
	clock      *crmtest.Clock
	ids        crm.IDGenerator
	store      *memstore.Store
	svc        *pool.Service
	east       *pool.Pool
	wang, zhao *crm.User
}

const eastPoolJSON = `{
  "id": "0196a8b0-0000-7000-8000-000000000001",
  "name": "East China",
  "time_zone": "Asia/Shanghai",
  "members": {"all": true},
  "limits": [{"kind": "daily_claims", "max": 20}],
  "previous_owner_cooldown_days": 30,
  "recycle": [{
    "id": "neglect-v1",
    "effective_from": "2026-01-01T00:00:00+08:00",
    "combine": "any",
    "conditions": [{"kind": "no_follow_up", "days": 15, "level_days": {"A": 30}}],
    "exclude": {"dealt": true, "open_opportunity": true}
  }]
}`

func newDemo(cfg *pool.Config) *demo {
	d := &demo{ctx: context.Background(), clock: crmtest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)), ids: crmtest.NewIDs()}
	d.store = memstore.New(&memstore.Config{Clock: d.clock})
	if cfg == nil {
		cfg = &pool.Config{}
	}
	cfg.Clock, cfg.IDs = d.clock, d.ids
	svc, err := pool.New(d.store, cfg)
	if err != nil {
		panic(err)
	}
	d.svc = svc
	if d.east, err = pool.ParsePool([]byte(eastPoolJSON)); err != nil {
		panic(err)
	}
	if err := d.svc.CreatePool(d.ctx, d.east); err != nil {
		panic(err)
	}
	d.wang = d.user("Wang Fang")
	d.zhao = d.user("Zhao Lei")
	return d
}

func (d *demo) user(name string) *crm.User {
	u := crmtest.User(d.ids, func(u *crm.User) { u.Name = name })
	if err := d.store.Users().Create(d.ctx, u); err != nil {
		panic(err)
	}
	return u
}

// pooled creates a customer and puts it into the East China pool.
func (d *demo) pooled(name, phone string) *crm.Customer {
	c := crmtest.Customer(d.ids, func(c *crm.Customer) { c.Name, c.Phone = name, phone })
	if err := d.store.Customers().Create(d.ctx, c); err != nil {
		panic(err)
	}
	if _, err := d.svc.Enter(d.ctx, pool.EnterRequest{CustomerID: c.ID, PoolID: d.east.ID}); err != nil {
		panic(err)
	}
	return c
}

func (d *demo) name(id crm.ID) string {
	if id == crm.NilID {
		return "nobody"
	}
	u, err := d.store.Users().Get(d.ctx, id)
	if err != nil {
		return id.String()
	}
	return u.Name
}

// A salesperson claims a customer from the pool; a colleague who tries a
// moment later is refused, and a retried request returns the first result.
func ExampleService_Claim() {
	d := newDemo(nil)
	c := d.pooled("上海明达机械有限公司", "")

	res, err := d.svc.Claim(d.ctx, pool.ClaimRequest{Actor: d.wang.ID, CustomerID: c.ID, IdempotencyKey: "req-42"})
	if err != nil {
		panic(err)
	}
	fmt.Println("owner:", d.name(res.Holding.OwnerID))
	fmt.Println("falls back on:", res.Holding.DueAt.Format(time.DateOnly), "because of", res.Holding.DueReason)

	_, err = d.svc.Claim(d.ctx, pool.ClaimRequest{Actor: d.zhao.ID, CustomerID: c.ID})
	fmt.Println("Zhao:", errors.Is(err, pool.ErrTaken))

	again, _ := d.svc.Claim(d.ctx, pool.ClaimRequest{Actor: d.wang.ID, CustomerID: c.ID, IdempotencyKey: "req-42"})
	fmt.Println("retry replayed:", again.Replayed, again.Entry.ID == res.Entry.ID)
	// Output:
	// owner: Wang Fang
	// falls back on: 2026-03-17 because of no_follow_up
	// Zhao: true
	// retry replayed: true true
}

// A claim joins a unit of work the host holds: here the claim and a lock
// commit together, and a claim whose unit of work fails afterwards (the
// host's own step refused) keeps nothing.
func ExampleService_ClaimTx() {
	d := newDemo(nil)
	first := d.pooled("苏州恒通电子有限公司", "")
	second := d.pooled("杭州启明软件有限公司", "")

	err := d.store.InTx(d.ctx, func(ctx context.Context, tx crm.Tx) error {
		if _, err := d.svc.ClaimTx(ctx, tx, pool.ClaimRequest{Actor: d.wang.ID, CustomerID: first.ID}); err != nil {
			return err
		}
		_, err := d.svc.LockTx(ctx, tx, pool.LockRequest{Actor: d.wang.ID, CustomerID: first.ID})
		return err
	})
	fmt.Println("claim and lock:", err)

	errCredit := errors.New("host: credit check failed")
	err = d.store.InTx(d.ctx, func(ctx context.Context, tx crm.Tx) error {
		if _, err := d.svc.ClaimTx(ctx, tx, pool.ClaimRequest{Actor: d.zhao.ID, CustomerID: second.ID}); err != nil {
			return err
		}
		return errCredit // the host's own step fails after the claim
	})
	fmt.Println("second unit of work:", err)

	for _, c := range []*crm.Customer{first, second} {
		h, err := d.svc.Holding(d.ctx, c.ID)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s: owner %q, locked %v\n", c.Name, d.name(h.OwnerID), h.Locked)
	}
	// Output:
	// claim and lock: <nil>
	// second unit of work: host: credit check failed
	// 苏州恒通电子有限公司: owner "Wang Fang", locked true
	// 杭州启明软件有限公司: owner "nobody", locked false
}

// An owned-customer cap refuses the claim beyond it, with a typed error
// saying which limit and how far.
func ExampleService_Claim_limitReached() {
	limits, err := pool.ParseLimits([]byte(`[{"kind": "owned_customers", "max": 2}]`))
	if err != nil {
		panic(err)
	}
	d := newDemo(&pool.Config{Limits: limits})
	for i := range 3 {
		c := d.pooled(fmt.Sprintf("Customer %d", i+1), "")
		_, err := d.svc.Claim(d.ctx, pool.ClaimRequest{Actor: d.wang.ID, CustomerID: c.ID})
		var le *crm.LimitError
		if errors.As(err, &le) {
			fmt.Printf("claim %d refused: %s at %d of %d\n", i+1, le.Limit, le.Current, le.Max)
			continue
		}
		fmt.Printf("claim %d ok\n", i+1)
	}
	// Output:
	// claim 1 ok
	// claim 2 ok
	// claim 3 refused: owned_customers at 2 of 2
}

// A customer nobody followed up for 15 days falls back into the pool when
// the host's scheduler runs a sweep; the plan shows it first, and the
// previous owner may not claim it back during the 30-day cooldown.
func ExampleService_Sweep() {
	d := newDemo(nil)
	neglected := d.pooled("杭州云帆贸易", "")
	if _, err := d.svc.Claim(d.ctx, pool.ClaimRequest{Actor: d.wang.ID, CustomerID: neglected.ID}); err != nil {
		panic(err)
	}

	d.clock.Advance(16 * 24 * time.Hour)
	plan, _ := d.svc.Plan(d.ctx, d.clock.Now(), 100)
	for _, p := range plan {
		fmt.Println("would recycle from", d.name(p.OwnerID), "by rule", p.RuleID, "because of", p.Reason)
	}
	res, err := d.svc.Sweep(d.ctx, d.clock.Now(), 1000)
	if err != nil {
		panic(err)
	}
	fmt.Println("recycled:", res.Recycled)

	_, err = d.svc.Claim(d.ctx, pool.ClaimRequest{Actor: d.wang.ID, CustomerID: neglected.ID})
	var ce *pool.CooldownError
	if errors.As(err, &ce) {
		fmt.Println("Wang may claim it again on", ce.Until.Format(time.DateOnly))
	}
	_, err = d.svc.Claim(d.ctx, pool.ClaimRequest{Actor: d.zhao.ID, CustomerID: neglected.ID})
	fmt.Println("Zhao claims it:", err == nil)
	// Output:
	// would recycle from Wang Fang by rule neglect-v1 because of no_follow_up
	// recycled: 1
	// Wang may claim it again on 2026-04-17
	// Zhao claims it: true
}

// A sweep with several workers runs its batches side by side, each in its
// own unit of work, and still stops at its limit: on PostgreSQL that
// divides a large sweep among the server's cores.
func ExampleService_Sweep_workers() {
	d := newDemo(&pool.Config{SweepBatch: 2, SweepWorkers: 3})
	for i := range 9 {
		c := d.pooled(fmt.Sprintf("客户%d", i), "")
		if _, err := d.svc.Claim(d.ctx, pool.ClaimRequest{Actor: d.wang.ID, CustomerID: c.ID}); err != nil {
			panic(err)
		}
	}
	d.clock.Advance(16 * 24 * time.Hour)
	first, err := d.svc.Sweep(d.ctx, d.clock.Now(), 5)
	if err != nil {
		panic(err)
	}
	rest, err := d.svc.Sweep(d.ctx, d.clock.Now(), 1000)
	if err != nil {
		panic(err)
	}
	fmt.Println("recycled within the limit of 5:", first.Recycled)
	fmt.Println("recycled by the next sweep:", rest.Recycled)
	// Output:
	// recycled within the limit of 5: 5
	// recycled by the next sweep: 4
}

// samePhone is a toy duplicate checker; hosts plug in the dedupe package.
type samePhone struct{}

func (samePhone) Duplicates(ctx context.Context, tx crm.Tx, c *crm.Customer) ([]crm.ID, error) {
	return phoneDup{}.Duplicates(ctx, tx, c)
}

// Creating a customer that a colleague already owns is blocked, without
// telling the actor who the colleague is.
func ExampleService_Create_collisionBlocked() {
	d := newDemo(&pool.Config{Duplicates: samePhone{}})
	mine := crmtest.Customer(d.ids, func(c *crm.Customer) { c.Name, c.Phone = "苏州恒通电子", "13812345678" })
	if _, err := d.svc.Create(d.ctx, pool.CreateRequest{Actor: d.wang.ID, Customer: mine}); err != nil {
		panic(err)
	}

	again := crmtest.Customer(d.ids, func(c *crm.Customer) { c.Name, c.Phone = "恒通电子(苏州)", "13812345678" })
	_, err := d.svc.Create(d.ctx, pool.CreateRequest{Actor: d.zhao.ID, Customer: again})
	var ce *pool.CollisionError
	if errors.As(err, &ce) {
		fmt.Println("blocked:", ce.Collisions[0].State, "owner shown:", ce.Collisions[0].OwnerID != crm.NilID)
	}
	st, _ := d.svc.Status(d.ctx, d.wang.ID, mine.ID)
	fmt.Println("for Wang it is:", st.State)
	// Output:
	// blocked: taken owner shown: false
	// for Wang it is: yours
}

// Hidden fields stay masked for everyone but the owner.
func ExamplePool_Mask() {
	p := &pool.Pool{HiddenFields: []string{"phone", "email"}}
	c := &crm.Customer{Name: "Acme", Phone: "13812345678", Email: "buyer@acme.example"}
	m := p.Mask(c)
	fmt.Println(m.Phone, m.Email)
	// Output: 138****5678 ***
}
