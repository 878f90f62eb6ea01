package crmkit_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/crmkit/crmkit"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/pool"
	"github.com/crmkit/crmkit/store/memstore"
)

// The claim benchmarks run one workload three ways on memstore: a rep
// claims b.N pooled customers one after the other (no pool limits, so no
// cap is ever hit), through the CRM's pools with anti-collision (a dedupe
// check of the stored match keys on every claim), through the CRM's pools
// with anti-collision off, and through a bare pool.New service. The
// customers are the same in all three: created through the CRM, so their
// match keys are stored, and entered into one pool.

// claimWorld is a memstore with b.N pooled customers and the rep who
// claims them.
type claimWorld struct {
	ctx       context.Context
	store     *memstore.Store
	rep       crm.ID
	customers []crm.ID
}

// newClaimWorld stores n pooled customers through a CRM built with cfg
// (seams wired), so each has its match keys.
func newClaimWorld(b *testing.B, n int, cfg *crmkit.Config) (*claimWorld, *crmkit.CRM) {
	b.Helper()
	ctx := context.Background()
	clock := crmtest.NewClock(time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC))
	ids := crmtest.NewIDs()
	w := &claimWorld{ctx: ctx, store: memstore.New(&memstore.Config{Clock: clock})}
	if cfg == nil {
		cfg = &crmkit.Config{}
	}
	cfg.Clock, cfg.IDs = clock, ids
	c, err := crmkit.New(w.store, cfg)
	if err != nil {
		b.Fatal(err)
	}
	dept := crmtest.Department(ids, "Sales", crm.NilID)
	if err := w.store.Departments().Create(ctx, dept); err != nil {
		b.Fatal(err)
	}
	rep := crmtest.User(ids, func(u *crm.User) { u.DepartmentID = dept.ID })
	if err := w.store.Users().Create(ctx, rep); err != nil {
		b.Fatal(err)
	}
	w.rep = rep.ID
	p := &pool.Pool{ID: ids.NewID(), Name: "Public", Members: pool.Members{All: true}}
	if err := c.Pools.CreatePool(ctx, p); err != nil {
		b.Fatal(err)
	}
	w.customers = make([]crm.ID, n)
	for i := range n {
		cust := crmtest.Customer(ids, func(c *crm.Customer) {
			c.Name, c.Phone = claimCompany(i), fmt.Sprintf("0571-8%07d", i)
			c.Email = fmt.Sprintf("info@c%07d.example.cn", i)
		})
		if _, err := c.CreateCustomer(ctx, crmkit.CreateCustomerRequest{Customer: cust}); err != nil {
			b.Fatalf("customer %d: %v", i, err)
		}
		if _, err := c.Pools.Enter(ctx, pool.EnterRequest{CustomerID: cust.ID, PoolID: p.ID}); err != nil {
			b.Fatal(err)
		}
		w.customers[i] = cust.ID
	}
	return w, c
}

// claimCompany returns a company name unlike the others of the workload,
// so no entry is refused as a duplicate and each claim's check reads
// keys that match nothing.
func claimCompany(i int) string {
	cities := []string{"杭州", "上海", "苏州", "宁波", "南京", "无锡", "合肥", "福州", "厦门", "济南", "青岛", "武汉", "长沙", "成都", "重庆"}
	trades := []string{"云帆", "明达", "恒通", "海晨", "启航", "新锐", "华腾", "东升", "星河", "南方", "天府", "山城", "远景", "嘉禾", "瑞丰", "金桥", "宏图"}
	kinds := []string{"贸易", "机械", "电子", "物流", "软件", "材料", "化工", "网络", "科技", "食品", "纺织"}
	return fmt.Sprintf("%s%s%s%d号有限公司", cities[i%len(cities)], trades[(i/len(cities))%len(trades)], kinds[(i/(len(cities)*len(trades)))%len(kinds)], i)
}

// runClaims claims every customer of w with claim, timing only the
// claims.
func runClaims(b *testing.B, w *claimWorld, claim func(ctx context.Context, req pool.ClaimRequest) (*pool.Result, error)) {
	b.Helper()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := claim(w.ctx, pool.ClaimRequest{Actor: w.rep, CustomerID: w.customers[i]}); err != nil {
			b.Fatalf("claim %d: %v", i, err)
		}
	}
}

// BenchmarkClaimThroughCRM claims through the pools of crmkit.New: the
// seams are wired, so every claim runs in a unit of work and asks the
// dedupe service about the customer's stored match keys (anti-collision,
// 防撞单).
func BenchmarkClaimThroughCRM(b *testing.B) {
	w, c := newClaimWorld(b, b.N, nil)
	runClaims(b, w, c.Pools.Claim)
}

// BenchmarkClaimThroughCRMCollisionOff is BenchmarkClaimThroughCRM with
// the CRM's anti-collision on claims off: the cost of the wiring alone
// (the permission seam without a policy, the indexer).
func BenchmarkClaimThroughCRMCollisionOff(b *testing.B) {
	w, c := newClaimWorld(b, b.N, &crmkit.Config{Pool: pool.Config{CollisionOnClaim: pool.CollisionOff}})
	runClaims(b, w, c.Pools.Claim)
}

// BenchmarkClaimThroughPoolService claims the same customers through a
// bare pool.New service with the default configuration: no duplicate
// checker, so no anti-collision.
func BenchmarkClaimThroughPoolService(b *testing.B) {
	w, _ := newClaimWorld(b, b.N, nil)
	svc, err := pool.New(w.store, nil)
	if err != nil {
		b.Fatal(err)
	}
	runClaims(b, w, svc.Claim)
}

// BenchmarkUpdateCustomerMemstore edits one field and one custom field of
// a customer through UpdateCustomer on memstore, with the field history
// (the default) and without it (Config.NoHistory): the CPU and memory the
// history's diff, rows and change event add to an edit, without a
// database's round trips.
func BenchmarkUpdateCustomerMemstore(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("history=%v", map[bool]string{false: "off", true: "on"}[on]), func(b *testing.B) {
			ctx := context.Background()
			clock := crmtest.NewClock(time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC))
			ids := crmtest.NewIDs()
			c, err := crmkit.New(memstore.New(&memstore.Config{Clock: clock}), &crmkit.Config{Clock: clock, IDs: ids, NoHistory: !on})
			if err != nil {
				b.Fatal(err)
			}
			res, err := c.CreateCustomer(ctx, crmkit.CreateCustomerRequest{Customer: crmtest.Customer(ids)})
			if err != nil {
				b.Fatal(err)
			}
			cust := res.Customer
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				cust.Address = fmt.Sprintf("杭州市西湖区文三路%d号", i)
				cust.Fields = map[string]crm.FieldValue{"credit_limit": crm.Number(decimal.NewFromInt(int64(50000 + i)))}
				if cust, err = c.UpdateCustomer(ctx, crmkit.UpdateCustomerRequest{Customer: cust}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
