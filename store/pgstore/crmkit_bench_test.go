package pgstore_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/crmkit/crmkit"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/dedupe"
	"github.com/crmkit/crmkit/lead"
)

// convertStored is the least number of customers, with their match keys,
// stored before the conversions, so every duplicate check looks its keys
// up in a populated index.
const convertStored = 500

// benchExistingCompany names the stored customers; benchLeadCompany names
// the leads with characters the stored names do not use, so a lead's
// company never resembles a candidate's.
func benchExistingCompany(i int) string {
	cities := []string{"杭州", "上海", "苏州", "宁波", "南京", "无锡", "合肥", "福州", "厦门", "济南"}
	trades := []string{"云帆", "明达", "恒通", "海晨", "启航", "新锐", "华腾", "东升", "星河", "南方", "天府"}
	kinds := []string{"贸易", "机械", "电子", "物流", "软件", "材料", "化工"}
	return fmt.Sprintf("%s%s%s%d号有限公司", cities[i%len(cities)], trades[(i/len(cities))%len(trades)], kinds[(i/(len(cities)*len(trades)))%len(kinds)], i)
}

func benchLeadCompany(i int) string {
	// Four characters from four disjoint ranges of CJK ideographs, each
	// a function of i modulo 1000 with a different stride, so no two of
	// the first 1000 leads share a character in any position.
	var name [4]rune
	for p := range name {
		name[p] = rune(0x4E00 + 2000 + p*1000 + (i*(2*p+1)+i/1000)%1000)
	}
	return string(name[:]) + "有限公司"
}

// benchLeadPhone returns a Nanjing number per lead whose digits are
// scattered by a multiplicative hash, so no two leads' phones are within
// one edit of each other in practice.
func benchLeadPhone(i int) string {
	return fmt.Sprintf("025-%08d", 10000000+(i*2654435761)%90000000)
}

// benchMailbox is the group procurement mailbox of lead i: the stored
// customers of that group (subsidiaries buying through one address) share
// it, and so becomes each conversion's candidates.
func benchMailbox(i int) string { return fmt.Sprintf("purchasing@group%06d.example.cn", i) }

// BenchmarkConvertWithDuplicateCheckAndRouting converts a lead nobody owns
// through Leads.Convert of crmkit.New on PostgreSQL: in one transaction the
// lifecycle check, the duplicate check against the stored match keys, the
// round-robin routing (cursor and load written), the customer with its
// keys, the contact, the lead's history and the events. Each iteration
// converts a new company; the leads and the stored customers are written
// before the timer starts.
//
// The sub-benchmarks set how many stored customers each check finds and
// scores: candidates=0 looks up the lead's keys among convertStored
// customers and finds none (a new company, the common case);
// candidates=1 and 4 give each lead a group of that many stored customers
// sharing its e-mail (different company and phone: scored below the
// blocking score, so the conversion still creates its customer). Each
// lead has a mailbox of its own, so the count stays the same throughout.
func BenchmarkConvertWithDuplicateCheckAndRouting(b *testing.B) {
	if os.Getenv(urlEnv) == "" {
		b.Skipf("%s is not set; skipping the PostgreSQL benchmark (e.g. export %s=postgres://postgres:postgres@localhost:5432/crmkit_test?sslmode=disable)", urlEnv, urlEnv)
	}
	for _, cands := range []int{0, 1, 4} {
		b.Run(fmt.Sprintf("candidates=%d", cands), func(b *testing.B) { benchConvert(b, cands) })
	}
}

func benchConvert(b *testing.B, cands int) {
	w := newCRMWorld(b, nil)
	stored := max(convertStored, cands*b.N)
	// An import of the stored customers, 100 to a unit of work; the
	// subsidiaries of one group are kept apart though they share a
	// mailbox.
	for start := 0; start < stored; start += 100 {
		err := w.crm.InTx(w.ctx, func(ctx context.Context, tx crm.Tx) error {
			for i := start; i < min(start+100, stored); i++ {
				email := fmt.Sprintf("info@c%06d.example.cn", i)
				if cands > 0 {
					email = benchMailbox(i / cands)
				}
				c := crmtest.Customer(w.ids, func(c *crm.Customer) {
					c.Kind, c.Name, c.Phone, c.Email = crm.CustomerCompany, benchExistingCompany(i), fmt.Sprintf("0571-8%07d", i), email
					c.OwnerID, c.PoolID, c.DepartmentID = crm.NilID, crm.NilID, crm.NilID
				})
				if _, err := w.crm.CreateCustomerTx(ctx, tx, crmkit.CreateCustomerRequest{Customer: c, Policy: &dedupe.Policy{}}); err != nil {
					return fmt.Errorf("stored customer %d: %w", i, err)
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	leads := make([]crm.ID, b.N)
	for i := range leads {
		l := crmtest.Lead(w.ids, func(l *crm.Lead) {
			l.Company, l.Name, l.Phone, l.Email = benchLeadCompany(i), "王芳", benchLeadPhone(i), benchMailbox(i)
			l.Region, l.OwnerID, l.DepartmentID = "cn-east", crm.NilID, w.sales.ID
		})
		if err := w.store.Leads().Create(w.ctx, l); err != nil {
			b.Fatal(err)
		}
		leads[i] = l.ID
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		conv, err := w.crm.Leads.Convert(w.ctx, lead.ConvertRequest{LeadID: leads[i], Actor: w.reps[2].ID})
		if err != nil {
			b.Fatalf("convert %d: %v", i, err)
		}
		if conv.Attached || conv.Duplicate != nil || conv.Customer.OwnerID == crm.NilID {
			b.Fatalf("convert %d: attached %v, duplicate %v, owner %s: want a new, routed customer", i, conv.Attached, conv.Duplicate, conv.Customer.OwnerID)
		}
	}
}

// noCaptureCheck lets every captured lead in, checking nothing: the
// baseline of BenchmarkCaptureLead.
type noCaptureCheck struct{}

func (noCaptureCheck) CheckCapture(context.Context, crm.Tx, *crm.Lead, crm.ID) (lead.CaptureCheck, error) {
	return lead.CaptureCheck{}, nil
}

// BenchmarkCaptureLead captures a new lead through Leads.Capture of
// crmkit.New on PostgreSQL, with convertStored customers and as many open
// leads (each with its match keys) stored before the timer starts. check=on
// is the wired capture check: the lead's keys looked up among the leads and
// the customers, the strong keys' holders read, the lead's keys stored;
// check=off replaces the checker with one that checks nothing, so the
// difference is what the duplicate check adds to a capture. Each lead is a
// new company, the common case.
func BenchmarkCaptureLead(b *testing.B) {
	if os.Getenv(urlEnv) == "" {
		b.Skipf("%s is not set; skipping the PostgreSQL benchmark", urlEnv)
	}
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("check=%s", map[bool]string{false: "off", true: "on"}[on]), func(b *testing.B) {
			w := newCRMWorld(b, func(cfg *crmkit.Config) {
				if !on {
					cfg.Lead.Capture = noCaptureCheck{}
				}
			})
			for start := 0; start < convertStored; start += 100 {
				err := w.crm.InTx(w.ctx, func(ctx context.Context, tx crm.Tx) error {
					for i := start; i < start+100; i++ {
						c := crmtest.Customer(w.ids, func(c *crm.Customer) {
							c.Kind, c.Name, c.Phone = crm.CustomerCompany, benchExistingCompany(i), fmt.Sprintf("0571-8%07d", i)
							c.OwnerID, c.PoolID, c.DepartmentID = crm.NilID, crm.NilID, crm.NilID
						})
						if _, err := w.crm.CreateCustomerTx(ctx, tx, crmkit.CreateCustomerRequest{Customer: c, Policy: &dedupe.Policy{}}); err != nil {
							return err
						}
						l := crmtest.Lead(w.ids, func(l *crm.Lead) {
							l.Company, l.Name, l.Phone, l.Email = benchLeadCompany(1000+i), "", benchLeadPhone(1000+i), ""
						})
						if _, err := w.crm.Leads.CaptureTx(ctx, tx, lead.CaptureRequest{Lead: l}); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			leads := make([]*crm.Lead, b.N)
			for i := range leads {
				leads[i] = crmtest.Lead(w.ids, func(l *crm.Lead) {
					l.Company, l.Name, l.Phone, l.Email = benchLeadCompany(i), "王芳", benchLeadPhone(i), ""
					l.OwnerID, l.DepartmentID = w.reps[0].ID, w.sales.ID
				})
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				got, err := w.crm.Leads.Capture(w.ctx, lead.CaptureRequest{Lead: leads[i], Actor: w.reps[0].ID})
				if err != nil {
					b.Fatalf("capture %d: %v", i, err)
				}
				if got.Decision != lead.CaptureAllow {
					b.Fatalf("capture %d: %v %v: want a new company let in", i, got.Decision, got.Duplicates)
				}
			}
		})
	}
}

// BenchmarkUpdateCustomer edits one field and one custom field of a
// customer through UpdateCustomer of crmkit.New on PostgreSQL, each edit
// its own unit of work: the customer read, the edit checked, stored and
// its match keys replaced. Two CRMs share one store and take turns, edit
// for edit, so both see the same machine: the default CRM, which also
// writes the two history rows and the customer.updated change event with
// them (history-ns/op), and one with Config.NoHistory, which writes
// neither (plain-ns/op). ratio is the first over the second.
func BenchmarkUpdateCustomer(b *testing.B) {
	if os.Getenv(urlEnv) == "" {
		b.Skipf("%s is not set; skipping the PostgreSQL benchmark", urlEnv)
	}
	w := newCRMWorld(b, nil)
	plain, err := crmkit.New(w.store, &crmkit.Config{Clock: w.clock, IDs: w.ids, NoHistory: true})
	if err != nil {
		b.Fatal(err)
	}
	crms := []*crmkit.CRM{plain, w.crm}
	custs := make([]*crm.Customer, len(crms))
	for i, c := range crms {
		res, err := c.CreateCustomer(w.ctx, crmkit.CreateCustomerRequest{Actor: w.reps[0].ID, Own: true,
			Customer: &crm.Customer{Kind: crm.CustomerCompany, Name: benchExistingCompany(i), Phone: fmt.Sprintf("0571-8888123%d", i), Level: "B"}})
		if err != nil {
			b.Fatal(err)
		}
		custs[i] = res.Customer
	}
	var took [2]time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		for k, c := range crms {
			cust := custs[k]
			cust.Address = fmt.Sprintf("杭州市西湖区文三路%d号", i)
			cust.Fields = map[string]crm.FieldValue{"credit_limit": crm.Number(decimal.NewFromInt(int64(50000 + i)))}
			began := time.Now()
			if custs[k], err = c.UpdateCustomer(w.ctx, crmkit.UpdateCustomerRequest{Customer: cust, Actor: w.reps[0].ID}); err != nil {
				b.Fatalf("update %d: %v", i, err)
			}
			took[k] += time.Since(began)
		}
	}
	b.ReportMetric(float64(took[0].Nanoseconds())/float64(b.N), "plain-ns/op")
	b.ReportMetric(float64(took[1].Nanoseconds())/float64(b.N), "history-ns/op")
	b.ReportMetric(float64(took[1])/float64(took[0]), "ratio")
}
