package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/shopspring/decimal"
)

// The descriptors of the ten record types. Full records set every field,
// with custom fields of every kind, times carrying nanoseconds in a non-UTC
// zone, and Chinese text, so a lossy column or codec shows up as a diff.

// nanoTime returns a time with nanoseconds in UTC+8 that adapters must store
// as UTC microseconds.
func nanoTime(day, ns int) time.Time {
	return time.Date(2026, 3, day, 10, 20, 30, ns, time.FixedZone("CST", 8*3600))
}

func fullFields(tag string) crm.Fields {
	return crm.Fields{
		"note":     crm.String("重点客户 " + tag + " \"quoted\" \\ back\\slash"),
		"budget":   crm.Number(decimal.RequireFromString("1234.5678")),
		"exact":    crm.Number(decimal.RequireFromString("-98765432109876543210.0123456789")),
		"trailing": crm.Number(decimal.RequireFromString("12.30")),
		"vip":      crm.Bool(true),
		"opted_in": crm.Bool(false),
		"met_at":   crm.Time(nanoTime(2, 987654321)),
		"channels": crm.Strings("wechat", "phone", "邮件"),
		"none":     crm.Strings(),
	}
}

func changedFields() crm.Fields {
	return crm.Fields{
		"budget":   crm.Number(decimal.RequireFromString("0.0001")),
		"channels": crm.Strings("visit"),
		"added":    crm.String("new"),
	}
}

func scribbleFields(f crm.Fields) {
	f["note"] = crm.String("scribbled")
	f["scribbled"] = crm.Bool(true)
	delete(f, "budget")
}

func money(amount, currency string) crm.Money {
	m, err := crm.NewMoney(decimal.RequireFromString(amount), currency)
	if err != nil {
		panic(err) // the suite's own constants
	}
	return m
}

// commonInvalid are the bad records every type refuses.
func commonInvalid[T any](meta func(*T) *crm.Meta, fields func(*T) *crm.Fields) []invalidCase[T] {
	return []invalidCase[T]{
		{"MissingID", "id", func(v *T) { meta(v).ID = crm.NilID }},
		{"NegativeVersion", "version", func(v *T) { meta(v).Version = -1 }},
		{"BadCustomFieldName", "fields.Bad-Name", func(v *T) { set(fields(v), "Bad-Name", crm.Bool(true)) }},
		{"CustomFieldWithNUL", "fields.note", func(v *T) { set(fields(v), "note", crm.String("a\x00b")) }},
		{"CustomFieldWithoutValue", "fields.empty", func(v *T) { set(fields(v), "empty", crm.FieldValue{}) }},
		{"CustomListItemWithBadUTF8", "fields.channels[1]", func(v *T) { set(fields(v), "channels", crm.Strings("ok", "\xff")) }},
	}
}

func set(f *crm.Fields, name string, v crm.FieldValue) {
	if *f == nil {
		*f = crm.Fields{}
	}
	(*f)[name] = v
}

func leadKind() kind[crm.Lead, crm.LeadFilter, *crm.Lead, *crm.LeadFilter] {
	return kind[crm.Lead, crm.LeadFilter, *crm.Lead, *crm.LeadFilter]{
		name: "lead",
		repo: func(tx crm.Tx) crm.LeadRepository { return tx.Leads() },
		full: func(e *env, _ context.Context) *crm.Lead {
			return &crm.Lead{
				Meta: crm.Meta{ID: e.ids.NewID()}, Name: "王芳", Company: "华腾科技", Title: "采购经理",
				Email: "wang.fang@huateng.example", Phone: "+86 138 0013 8000", Industry: "manufacturing",
				Region: "cn-east", Source: "web_form", CompanySize: 250, Status: crm.LeadConverted,
				DisqualifyReason: "was a duplicate", OwnerID: e.ids.NewID(), DepartmentID: e.ids.NewID(),
				CreatedBy: e.ids.NewID(), ConvertedCustomerID: e.ids.NewID(), ConvertedContactID: e.ids.NewID(),
				ConvertedOpportunityID: e.ids.NewID(), ConvertedAt: ptr(nanoTime(3, 123456789)),
				Tags: []string{"hot", "展会"}, Fields: fullFields("lead"),
			}
		},
		minimal: func(e *env, _ context.Context) *crm.Lead {
			return &crm.Lead{Meta: crm.Meta{ID: e.ids.NewID()}, Company: "Acme"}
		},
		change: func(e *env, _ context.Context, l *crm.Lead) {
			l.Name, l.Company, l.Title, l.Email, l.Phone = "Li Na", "", "CEO", "li.na@example.com", "021-5555"
			l.Industry, l.Region, l.Source, l.CompanySize = "retail", "cn-north", "expo", 12
			l.Status, l.DisqualifyReason = crm.LeadDisqualified, "no budget"
			l.OwnerID, l.DepartmentID, l.CreatedBy = e.ids.NewID(), crm.NilID, e.ids.NewID()
			l.ConvertedCustomerID, l.ConvertedContactID, l.ConvertedOpportunityID = crm.NilID, crm.NilID, crm.NilID
			l.ConvertedAt = ptr(nanoTime(4, 1))
			l.Tags = []string{"cold"}
			l.Fields = changedFields()
		},
		scribble: func(l *crm.Lead) {
			l.Tags[0] = "scribbled"
			*l.ConvertedAt = time.Time{}
			scribbleFields(l.Fields)
		},
		fields: func(l *crm.Lead) *crm.Fields { return &l.Fields },
		invalid: []invalidCase[crm.Lead]{
			{"NoNameNorCompany", "name", func(l *crm.Lead) { l.Name, l.Company = " ", "" }},
			{"UnknownStatus", "status", func(l *crm.Lead) { l.Status = "hot" }},
			{"BadEmail", "email", func(l *crm.Lead) { l.Email = "wang.fang at example.com" }},
			{"TitleWithNUL", "title", func(l *crm.Lead) { l.Title = "boss\x00" }},
			{"NameWithBadUTF8", "name", func(l *crm.Lead) { l.Name = "\xc3\x28" }},
			{"NameTooLong", "name", func(l *crm.Lead) { l.Name = strings.Repeat("名", 201) }},
			{"NegativeCompanySize", "company_size", func(l *crm.Lead) { l.CompanySize = -1 }},
			{"RepeatedTag", "tags[1]", func(l *crm.Lead) { l.Tags = []string{"hot", "hot"} }},
			{"DisqualifiedWithoutReason", "disqualify_reason", func(l *crm.Lead) {
				l.Status, l.DisqualifyReason = crm.LeadDisqualified, ""
			}},
			{"ConvertedWithoutCustomer", "converted_customer_id", func(l *crm.Lead) { l.ConvertedCustomerID = crm.NilID }},
		},
		random: func(w *world, tenant string) *crm.Lead {
			statuses := []crm.LeadStatus{"", crm.LeadNew, crm.LeadContacted, crm.LeadMQL, crm.LeadSQL}
			return &crm.Lead{
				Name: "Lead", Status: pick(w, statuses), OwnerID: pick(w, w.owners),
				DepartmentID: pick(w, w.recordDepts[tenant]), Source: pick(w, w.words),
			}
		},
		randomFilter: func(w *world) crm.LeadFilter {
			return crm.LeadFilter{
				Statuses: some(w, []crm.LeadStatus{crm.LeadNew, crm.LeadContacted, crm.LeadMQL, crm.LeadSQL, crm.LeadConverted}),
				OwnerIDs: some(w, w.owners), DepartmentIDs: some(w, w.deptIDs), Sources: some(w, w.words),
				Scope: w.scope(),
			}
		},
		fixedFilters: func(w *world) []crm.LeadFilter {
			out := []crm.LeadFilter{{}, {Statuses: []crm.LeadStatus{crm.LeadNew}}, {Sources: []string{""}}}
			for _, s := range scopeEdges(w) {
				out = append(out, crm.LeadFilter{Scope: s})
			}
			return out
		},
		badFilters: []badFilter[crm.LeadFilter]{
			{"UnknownStatus", "statuses[0]", crm.LeadFilter{Statuses: []crm.LeadStatus{"hot"}}},
			{"TooManyOwners", "owner_ids", crm.LeadFilter{OwnerIDs: tooManyIDs()}},
			{"TooManyScopeDepartments", "scope.department_trees", crm.LeadFilter{Scope: &crm.DataScope{DepartmentTrees: tooManyIDs()}}},
		},
	}
}

func customerKind() kind[crm.Customer, crm.CustomerFilter, *crm.Customer, *crm.CustomerFilter] {
	return kind[crm.Customer, crm.CustomerFilter, *crm.Customer, *crm.CustomerFilter]{
		name: "customer",
		repo: func(tx crm.Tx) crm.CustomerRepository { return tx.Customers() },
		full: func(e *env, _ context.Context) *crm.Customer {
			return &crm.Customer{
				Meta: crm.Meta{ID: e.ids.NewID()}, Kind: crm.CustomerPerson, Name: "北京华腾科技有限公司",
				Level: "A", Industry: "manufacturing", Region: "cn-north", Source: "referral",
				Status: crm.CustomerDealt, Phone: "010-8888 6666", Email: "info@huateng.example",
				Address: "北京市海淀区中关村大街 1 号", Website: "https://huateng.example",
				OwnerID: e.ids.NewID(), DepartmentID: e.ids.NewID(), CreatedBy: e.ids.NewID(),
				LastFollowUpAt: ptr(nanoTime(5, 999999999)), LastDealAt: ptr(nanoTime(6, 1000)),
				Tags: []string{"vip", "展会"}, Fields: fullFields("customer"),
			}
		},
		minimal: func(e *env, _ context.Context) *crm.Customer {
			return &crm.Customer{Meta: crm.Meta{ID: e.ids.NewID()}, Name: "Acme"}
		},
		change: func(e *env, _ context.Context, c *crm.Customer) {
			c.Kind, c.Name, c.Level, c.Industry, c.Region, c.Source = crm.CustomerCompany, "Acme", "B", "retail", "cn-south", "web"
			c.Status, c.Phone, c.Email, c.Address, c.Website = crm.CustomerLost, "1", "a@b.example", "Shanghai", ""
			c.OwnerID, c.PoolID, c.DepartmentID, c.CreatedBy = crm.NilID, e.ids.NewID(), e.ids.NewID(), crm.NilID
			c.LastFollowUpAt, c.LastDealAt = nil, ptr(nanoTime(7, 7))
			c.Tags = []string{"expo-2026"}
			c.Fields = changedFields()
		},
		scribble: func(c *crm.Customer) {
			*c.LastFollowUpAt = time.Time{}
			*c.LastDealAt = time.Time{}
			c.Tags[0] = "scribbled"
			scribbleFields(c.Fields)
		},
		fields: func(c *crm.Customer) *crm.Fields { return &c.Fields },
		invalid: []invalidCase[crm.Customer]{
			{"BlankName", "name", func(c *crm.Customer) { c.Name = "  " }},
			{"UnknownKind", "kind", func(c *crm.Customer) { c.Kind = "robot" }},
			{"UnknownStatus", "status", func(c *crm.Customer) { c.Status = "vip" }},
			{"OwnedAndPooled", "pool_id", func(c *crm.Customer) { c.PoolID = c.OwnerID }},
			{"BadEmail", "email", func(c *crm.Customer) { c.Email = "@example.com" }},
			{"AddressWithNUL", "address", func(c *crm.Customer) { c.Address = "\x00" }},
			{"LevelTooLong", "level", func(c *crm.Customer) { c.Level = strings.Repeat("a", 65) }},
			{"TagRepeatedIgnoringCase", "tags[2]", func(c *crm.Customer) { c.Tags = []string{"vip", "new", " VIP"} }},
			{"BlankTag", "tags[0]", func(c *crm.Customer) { c.Tags = []string{"  "} }},
			{"TagTooLong", "tags[1]", func(c *crm.Customer) { c.Tags = []string{"vip", strings.Repeat("t", 65)} }},
		},
		random: func(w *world, tenant string) *crm.Customer {
			c := &crm.Customer{
				Name: "Customer", Status: pick(w, []crm.CustomerStatus{"", crm.CustomerPotential, crm.CustomerDealt, crm.CustomerLost}),
				OwnerID: pick(w, w.owners), DepartmentID: pick(w, w.recordDepts[tenant]), Level: pick(w, w.words),
				Region: pick(w, w.words), Industry: pick(w, w.words), Tags: some(w, w.words[1:]),
			}
			if c.OwnerID == crm.NilID {
				c.PoolID = pick(w, w.pools)
			}
			return c
		},
		randomFilter: func(w *world) crm.CustomerFilter {
			f := crm.CustomerFilter{
				Statuses:      some(w, []crm.CustomerStatus{crm.CustomerPotential, crm.CustomerDealt, crm.CustomerLost}),
				DepartmentIDs: some(w, w.deptIDs), PoolIDs: some(w, w.pools), Levels: some(w, w.words),
				Regions: some(w, w.words), Industries: some(w, w.words), Tags: some(w, w.words[1:]), Scope: w.scope(),
			}
			if w.r.IntN(4) == 0 {
				f.Unowned = true
			} else {
				f.OwnerIDs = some(w, w.owners)
			}
			return f
		},
		fixedFilters: func(w *world) []crm.CustomerFilter {
			out := []crm.CustomerFilter{{}, {Unowned: true}, {PoolIDs: []crm.ID{crm.NilID}}, {Levels: []string{"web", ""}}}
			for _, s := range scopeEdges(w) {
				out = append(out, crm.CustomerFilter{Scope: s})
			}
			return out
		},
		badFilters: []badFilter[crm.CustomerFilter]{
			{"UnknownStatus", "statuses[0]", crm.CustomerFilter{Statuses: []crm.CustomerStatus{"vip"}}},
			{"UnownedWithOwners", "unowned", crm.CustomerFilter{Unowned: true, OwnerIDs: []crm.ID{{1}}}},
			{"TooManyPools", "pool_ids", crm.CustomerFilter{PoolIDs: tooManyIDs()}},
			{"TagNotNormalised", "tags[1]", crm.CustomerFilter{Tags: []string{"vip", "VIP"}}},
		},
	}
}

func contactKind() kind[crm.Contact, crm.ContactFilter, *crm.Contact, *crm.ContactFilter] {
	return kind[crm.Contact, crm.ContactFilter, *crm.Contact, *crm.ContactFilter]{
		name: "contact",
		repo: func(tx crm.Tx) crm.ContactRepository { return tx.Contacts() },
		full: func(e *env, _ context.Context) *crm.Contact {
			return &crm.Contact{
				Meta: crm.Meta{ID: e.ids.NewID()}, CustomerID: e.ids.NewID(), Name: "李娜", Title: "CTO",
				Phones: []string{"+86 139 0000 0000", "010-1234"}, Emails: []string{"li.na@example.com", "Li.Na@Home.example"},
				Primary: true, OwnerID: e.ids.NewID(), Fields: fullFields("contact"),
			}
		},
		minimal: func(e *env, _ context.Context) *crm.Contact {
			return &crm.Contact{Meta: crm.Meta{ID: e.ids.NewID()}, CustomerID: e.ids.NewID(), Name: "Li Na"}
		},
		change: func(e *env, _ context.Context, c *crm.Contact) {
			c.CustomerID, c.Name, c.Title = e.ids.NewID(), "Zhang Wei", ""
			c.Phones, c.Emails, c.Primary, c.OwnerID = []string{"1"}, nil, false, crm.NilID
			c.Fields = changedFields()
		},
		scribble: func(c *crm.Contact) {
			c.Phones[0], c.Emails[0] = "scribbled", "scribbled@example.com"
			scribbleFields(c.Fields)
		},
		fields: func(c *crm.Contact) *crm.Fields { return &c.Fields },
		invalid: []invalidCase[crm.Contact]{
			{"MissingCustomer", "customer_id", func(c *crm.Contact) { c.CustomerID = crm.NilID }},
			{"MissingName", "name", func(c *crm.Contact) { c.Name = "" }},
			{"BadEmail", "emails[0]", func(c *crm.Contact) { c.Emails = []string{"nobody"} }},
			{"RepeatedPhone", "phones[1]", func(c *crm.Contact) { c.Phones = []string{"1", "1"} }},
			{"EmptyPhone", "phones[0]", func(c *crm.Contact) { c.Phones = []string{""} }},
		},
		random: func(w *world, _ string) *crm.Contact {
			return &crm.Contact{CustomerID: pick(w, w.custs), Name: "Contact"}
		},
		randomFilter: func(w *world) crm.ContactFilter {
			return crm.ContactFilter{CustomerIDs: some(w, slices.Concat(w.custs, []crm.ID{crm.NilID}))}
		},
		fixedFilters: func(w *world) []crm.ContactFilter {
			return []crm.ContactFilter{{}, {CustomerIDs: w.custs[:2]}}
		},
		badFilters: []badFilter[crm.ContactFilter]{
			{"TooManyCustomers", "customer_ids", crm.ContactFilter{CustomerIDs: tooManyIDs()}},
		},
	}
}

func opportunityKind() kind[crm.Opportunity, crm.OpportunityFilter, *crm.Opportunity, *crm.OpportunityFilter] {
	return kind[crm.Opportunity, crm.OpportunityFilter, *crm.Opportunity, *crm.OpportunityFilter]{
		name: "opportunity",
		repo: func(tx crm.Tx) crm.OpportunityRepository { return tx.Opportunities() },
		full: func(e *env, _ context.Context) *crm.Opportunity {
			return &crm.Opportunity{
				Meta: crm.Meta{ID: e.ids.NewID()}, CustomerID: e.ids.NewID(), Name: "年度框架协议",
				Amount: money("1234.5678", "cny"), Stage: crm.StageNegotiation, Probability: 65,
				ExpectedClose: ptr(nanoTime(20, 0)), ClosedAt: ptr(nanoTime(21, 500)),
				OwnerID: e.ids.NewID(), DepartmentID: e.ids.NewID(), Fields: fullFields("opportunity"),
				Pipeline: "hardware", LostReason: "price",
			}
		},
		minimal: func(e *env, _ context.Context) *crm.Opportunity {
			return &crm.Opportunity{Meta: crm.Meta{ID: e.ids.NewID()}, CustomerID: e.ids.NewID(), Name: "Deal"}
		},
		change: func(e *env, _ context.Context, o *crm.Opportunity) {
			o.CustomerID, o.Name, o.Amount = e.ids.NewID(), "Renewal", money("0.01", "USD")
			o.Stage, o.Probability, o.ExpectedClose, o.ClosedAt = crm.StageWon, 100, nil, ptr(nanoTime(22, 22))
			o.OwnerID, o.DepartmentID = crm.NilID, e.ids.NewID()
			o.Pipeline, o.LostReason = "", ""
			o.Fields = changedFields()
		},
		scribble: func(o *crm.Opportunity) {
			*o.ExpectedClose = time.Time{}
			*o.ClosedAt = time.Time{}
			scribbleFields(o.Fields)
		},
		fields: func(o *crm.Opportunity) *crm.Fields { return &o.Fields },
		invalid: []invalidCase[crm.Opportunity]{
			{"MissingCustomer", "customer_id", func(o *crm.Opportunity) { o.CustomerID = crm.NilID }},
			{"MissingName", "name", func(o *crm.Opportunity) { o.Name = "" }},
			{"UnknownStage", "stage", func(o *crm.Opportunity) { o.Pipeline, o.Stage = "", "closing" }},
			{"MalformedStageOfPipeline", "stage", func(o *crm.Opportunity) { o.Pipeline, o.Stage = "hardware", "Closing" }},
			{"MissingStageOfPipeline", "stage", func(o *crm.Opportunity) { o.Pipeline, o.Stage = "hardware", "" }},
			{"MalformedPipeline", "pipeline", func(o *crm.Opportunity) { o.Pipeline = "Hardware" }},
			{"MalformedLostReason", "lost_reason", func(o *crm.Opportunity) { o.LostReason = "too expensive" }},
			{"ProbabilityAbove100", "probability", func(o *crm.Opportunity) { o.Probability = 101 }},
			{"NegativeAmount", "amount", func(o *crm.Opportunity) { o.Amount = money("-1", "CNY") }},
			{"AmountWithTooManyDecimals", "amount.amount", func(o *crm.Opportunity) {
				o.Amount = money("1.5", "CNY").Mul(decimal.RequireFromString("0.000000000001"))
			}},
			{"AmountTooLarge", "amount.amount", func(o *crm.Opportunity) {
				o.Amount = money("1", "CNY").Mul(decimal.New(1, 30))
			}},
		},
		random: func(w *world, tenant string) *crm.Opportunity {
			return &crm.Opportunity{
				CustomerID: pick(w, w.custs), Name: "Deal", OwnerID: pick(w, w.owners), DepartmentID: pick(w, w.recordDepts[tenant]),
				Stage:  pick(w, []crm.OpportunityStage{"", crm.StageQualification, crm.StageProposal, crm.StageWon, crm.StageLost}),
				Amount: money(fmt.Sprintf("%d.%02d", w.r.IntN(100000), w.r.IntN(100)), "CNY"),
			}
		},
		randomFilter: func(w *world) crm.OpportunityFilter {
			return crm.OpportunityFilter{
				CustomerIDs: some(w, w.custs), OwnerIDs: some(w, w.owners),
				Stages:    some(w, []crm.OpportunityStage{crm.StageQualification, crm.StageProposal, crm.StageWon, crm.StageLost, crm.StageNegotiation}),
				Pipelines: some(w, []string{"", "hardware"}),
				Scope:     w.scope(),
			}
		},
		fixedFilters: func(w *world) []crm.OpportunityFilter {
			out := []crm.OpportunityFilter{{}, {Stages: []crm.OpportunityStage{crm.StageQualification}}}
			for _, s := range scopeEdges(w) {
				out = append(out, crm.OpportunityFilter{Scope: s})
			}
			return out
		},
		badFilters: []badFilter[crm.OpportunityFilter]{
			{"MalformedStage", "stages[0]", crm.OpportunityFilter{Stages: []crm.OpportunityStage{"Closing"}}},
			{"MalformedPipeline", "pipelines[0]", crm.OpportunityFilter{Pipelines: []string{"Hardware"}}},
			{"TooManyCustomers", "customer_ids", crm.OpportunityFilter{CustomerIDs: tooManyIDs()}},
		},
	}
}

func activityKind() kind[crm.Activity, crm.ActivityFilter, *crm.Activity, *crm.ActivityFilter] {
	kinds := []crm.ActivityKind{crm.ActivityCall, crm.ActivityVisit, crm.ActivityEmail, crm.ActivityNote}
	subjects := func(w *world) []crm.Ref {
		return []crm.Ref{
			{Type: crm.TypeCustomer, ID: w.custs[0]}, {Type: crm.TypeCustomer, ID: w.custs[1]},
			{Type: crm.TypeLead, ID: w.custs[0]}, {Type: crm.TypeTicket, ID: w.custs[2]},
		}
	}
	return kind[crm.Activity, crm.ActivityFilter, *crm.Activity, *crm.ActivityFilter]{
		name: "activity",
		repo: func(tx crm.Tx) crm.ActivityRepository { return tx.Activities() },
		full: func(e *env, _ context.Context) *crm.Activity {
			return &crm.Activity{
				Meta: crm.Meta{ID: e.ids.NewID()}, Kind: crm.ActivityVisit,
				Subject: crm.Ref{Type: crm.TypeOpportunity, ID: e.ids.NewID()}, ActorID: e.ids.NewID(),
				OccurredAt: nanoTime(8, 123456789), Note: "拜访客户，确认需求。\nSecond line.",
				NextFollowUpAt: ptr(nanoTime(9, 999)), Fields: fullFields("activity"),
			}
		},
		minimal: func(e *env, _ context.Context) *crm.Activity {
			return &crm.Activity{
				Meta: crm.Meta{ID: e.ids.NewID()}, Kind: crm.ActivityNote,
				Subject: crm.Ref{Type: crm.TypeLead, ID: e.ids.NewID()}, ActorID: e.ids.NewID(), OccurredAt: nanoTime(1, 1),
			}
		},
		change: func(e *env, _ context.Context, a *crm.Activity) {
			a.Kind, a.Subject, a.ActorID = crm.ActivityEmail, crm.Ref{Type: crm.TypeTicket, ID: e.ids.NewID()}, e.ids.NewID()
			a.OccurredAt, a.Note, a.NextFollowUpAt = nanoTime(10, 10), "", nil
			a.Fields = changedFields()
		},
		scribble: func(a *crm.Activity) {
			*a.NextFollowUpAt = time.Time{}
			scribbleFields(a.Fields)
		},
		fields: func(a *crm.Activity) *crm.Fields { return &a.Fields },
		invalid: []invalidCase[crm.Activity]{
			{"UnknownKind", "kind", func(a *crm.Activity) { a.Kind = "fax" }},
			{"SubjectOfWrongType", "subject.type", func(a *crm.Activity) { a.Subject.Type = crm.TypeUser }},
			{"MissingSubjectID", "subject.id", func(a *crm.Activity) { a.Subject.ID = crm.NilID }},
			{"MissingActor", "actor_id", func(a *crm.Activity) { a.ActorID = crm.NilID }},
			{"MissingOccurredAt", "occurred_at", func(a *crm.Activity) { a.OccurredAt, a.NextFollowUpAt = time.Time{}, nil }},
			{"FollowUpBeforeOccurrence", "next_follow_up_at", func(a *crm.Activity) { a.NextFollowUpAt = ptr(a.OccurredAt.Add(-time.Hour)) }},
			{"NoteWithNUL", "note", func(a *crm.Activity) { a.Note = "x\x00" }},
		},
		random: func(w *world, _ string) *crm.Activity {
			return &crm.Activity{
				Kind: pick(w, kinds), Subject: pick(w, subjects(w)), ActorID: pick(w, w.users[:3]),
				OccurredAt: pick(w, w.times),
			}
		},
		randomFilter: func(w *world) crm.ActivityFilter {
			f := crm.ActivityFilter{ActorIDs: some(w, w.users[:4]), Kinds: some(w, slices.Concat(kinds, []crm.ActivityKind{crm.ActivityTask}))}
			if w.r.IntN(2) == 0 {
				f.Subject = ptr(pick(w, subjects(w)))
			}
			// Bounds fall on stored times and between them, in microseconds.
			bound := func() *time.Time {
				if w.r.IntN(2) == 0 {
					return nil
				}
				t := pick(w, w.times)
				if w.r.IntN(2) == 0 {
					t = t.Add(time.Duration(w.r.IntN(3)-1) * time.Microsecond)
				}
				return &t
			}
			f.OccurredFrom, f.OccurredTo = bound(), bound()
			if f.OccurredFrom != nil && f.OccurredTo != nil && !f.OccurredFrom.Before(*f.OccurredTo) {
				f.OccurredFrom, f.OccurredTo = f.OccurredTo, f.OccurredFrom
				if f.OccurredFrom.Equal(*f.OccurredTo) {
					f.OccurredTo = ptr(f.OccurredTo.Add(time.Microsecond))
				}
			}
			return f
		},
		fixedFilters: func(w *world) []crm.ActivityFilter {
			return []crm.ActivityFilter{
				{}, {OccurredFrom: &w.times[3]}, {OccurredTo: &w.times[3]},
				{OccurredFrom: &w.times[2], OccurredTo: &w.times[3]},
				{Subject: &crm.Ref{Type: crm.TypeCustomer, ID: w.custs[0]}},
			}
		},
		badFilters: []badFilter[crm.ActivityFilter]{
			{"UnknownKind", "kinds[0]", crm.ActivityFilter{Kinds: []crm.ActivityKind{"fax"}}},
			{"EmptyTimeRange", "occurred_to", crm.ActivityFilter{OccurredFrom: ptr(nanoTime(2, 0)), OccurredTo: ptr(nanoTime(1, 0))}},
			{"TooManyActors", "actor_ids", crm.ActivityFilter{ActorIDs: tooManyIDs()}},
		},
	}
}

func ticketKind() kind[crm.Ticket, crm.TicketFilter, *crm.Ticket, *crm.TicketFilter] {
	statuses := []crm.TicketStatus{crm.TicketNew, crm.TicketOpen, crm.TicketPending, crm.TicketResolved, crm.TicketClosed}
	return kind[crm.Ticket, crm.TicketFilter, *crm.Ticket, *crm.TicketFilter]{
		name: "ticket",
		repo: func(tx crm.Tx) crm.TicketRepository { return tx.Tickets() },
		full: func(e *env, _ context.Context) *crm.Ticket {
			return &crm.Ticket{
				Meta: crm.Meta{ID: e.ids.NewID()}, CustomerID: e.ids.NewID(), ContactID: e.ids.NewID(),
				Subject: "无法登录", Description: "Since Monday.\n自周一起。", Priority: crm.PriorityUrgent,
				Status: crm.TicketClosed, AssigneeID: e.ids.NewID(), TeamID: e.ids.NewID(),
				DepartmentID: e.ids.NewID(), ResolvedAt: ptr(nanoTime(11, 111111111)), ClosedAt: ptr(nanoTime(12, 222222222)),
				FirstResponseAt: ptr(nanoTime(10, 999999999)), Satisfaction: crm.MaxSatisfaction, SLATimerID: e.ids.NewID(),
				SLADueAt: ptr(nanoTime(14, 444444444)), Fields: fullFields("ticket"),
			}
		},
		minimal: func(e *env, _ context.Context) *crm.Ticket {
			return &crm.Ticket{Meta: crm.Meta{ID: e.ids.NewID()}, Subject: "Help"}
		},
		change: func(e *env, _ context.Context, t *crm.Ticket) {
			t.CustomerID, t.ContactID, t.Subject, t.Description = crm.NilID, e.ids.NewID(), "Still broken", ""
			t.Priority, t.Status, t.AssigneeID, t.TeamID = crm.PriorityLow, crm.TicketPending, e.ids.NewID(), crm.NilID
			t.DepartmentID, t.ResolvedAt, t.ClosedAt = e.ids.NewID(), nil, nil
			t.FirstResponseAt, t.Satisfaction, t.SLATimerID = ptr(nanoTime(13, 1)), 0, e.ids.NewID()
			t.SLADueAt = ptr(nanoTime(15, 999))
			t.Fields = changedFields()
		},
		scribble: func(t *crm.Ticket) {
			*t.ResolvedAt, *t.ClosedAt, *t.FirstResponseAt, *t.SLADueAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
			scribbleFields(t.Fields)
		},
		fields: func(t *crm.Ticket) *crm.Fields { return &t.Fields },
		invalid: []invalidCase[crm.Ticket]{
			{"MissingSubject", "subject", func(t *crm.Ticket) { t.Subject = "" }},
			{"UnknownPriority", "priority", func(t *crm.Ticket) { t.Priority = "p0" }},
			{"UnknownStatus", "status", func(t *crm.Ticket) { t.Status = "waiting" }},
			{"SatisfactionAboveFive", "satisfaction", func(t *crm.Ticket) { t.Satisfaction = crm.MaxSatisfaction + 1 }},
			{"NegativeSatisfaction", "satisfaction", func(t *crm.Ticket) { t.Satisfaction = -1 }},
			{"DescriptionWithNUL", "description", func(t *crm.Ticket) { t.Description = "\x00" }},
		},
		random: func(w *world, tenant string) *crm.Ticket {
			return &crm.Ticket{
				Subject: "Ticket", CustomerID: pick(w, slices.Concat(w.custs[:3], []crm.ID{crm.NilID})), AssigneeID: pick(w, w.owners),
				TeamID: pick(w, w.teams), DepartmentID: pick(w, w.recordDepts[tenant]), Status: pick(w, slices.Concat(statuses, []crm.TicketStatus{""})),
			}
		},
		randomFilter: func(w *world) crm.TicketFilter {
			return crm.TicketFilter{
				CustomerIDs: some(w, slices.Concat(w.custs[:3], []crm.ID{crm.NilID})), AssigneeIDs: some(w, w.owners),
				TeamIDs: some(w, w.teams), Statuses: some(w, statuses), Scope: w.scope(),
			}
		},
		fixedFilters: func(w *world) []crm.TicketFilter {
			// A ticket stored without a status is new.
			out := []crm.TicketFilter{{}, {Statuses: []crm.TicketStatus{crm.TicketOpen}}, {Statuses: []crm.TicketStatus{crm.TicketNew}}, {TeamIDs: []crm.ID{crm.NilID}}}
			for _, s := range scopeEdges(w) {
				out = append(out, crm.TicketFilter{Scope: s})
			}
			return out
		},
		badFilters: []badFilter[crm.TicketFilter]{
			{"UnknownStatus", "statuses[0]", crm.TicketFilter{Statuses: []crm.TicketStatus{"waiting"}}},
			{"TooManyTeams", "team_ids", crm.TicketFilter{TeamIDs: tooManyIDs()}},
		},
	}
}

func userKind() kind[crm.User, crm.UserFilter, *crm.User, *crm.UserFilter] {
	return kind[crm.User, crm.UserFilter, *crm.User, *crm.UserFilter]{
		name: "user",
		repo: func(tx crm.Tx) crm.UserRepository { return tx.Users() },
		full: func(e *env, _ context.Context) *crm.User {
			id := e.ids.NewID()
			return &crm.User{
				Meta: crm.Meta{ID: id}, Name: "刘伟", Email: fmt.Sprintf("Liu.Wei+%s@Example.COM", id.String()[24:]),
				Phone: "+86 137 1111 2222", DepartmentID: e.ids.NewID(), Roles: []string{"sales", "manager"},
				Skills: []string{"mandarin", "english"}, Regions: []string{"cn-east"}, Capacity: 30, Active: true,
				Fields: fullFields("user"),
			}
		},
		minimal: func(e *env, _ context.Context) *crm.User {
			id := e.ids.NewID()
			return &crm.User{Meta: crm.Meta{ID: id}, Name: "U", Email: "u" + id.String()[24:] + "@example.com"}
		},
		change: func(e *env, _ context.Context, u *crm.User) {
			u.Name, u.Email, u.Phone = "Liu Wei", "changed+"+u.ID.String()[24:]+"@example.com", ""
			u.DepartmentID, u.Roles, u.Skills, u.Regions = e.ids.NewID(), []string{"agent"}, nil, []string{"cn-west", "cn-north"}
			u.Capacity, u.Active = 0, false
			u.Fields = changedFields()
		},
		scribble: func(u *crm.User) {
			u.Roles[0], u.Skills[0], u.Regions[0] = "admin", "scribbled", "scribbled"
			scribbleFields(u.Fields)
		},
		fields: func(u *crm.User) *crm.Fields { return &u.Fields },
		invalid: []invalidCase[crm.User]{
			{"MissingName", "name", func(u *crm.User) { u.Name = "" }},
			{"MissingEmail", "email", func(u *crm.User) { u.Email = "" }},
			{"BadEmail", "email", func(u *crm.User) { u.Email = "liu wei@example.com" }},
			{"RepeatedRole", "roles[1]", func(u *crm.User) { u.Roles = []string{"sales", "sales"} }},
			{"NegativeCapacity", "capacity", func(u *crm.User) { u.Capacity = -5 }},
		},
		random: func(w *world, tenant string) *crm.User {
			w.nextUser++
			return &crm.User{
				Name: "User", Email: w.randomCase(fmt.Sprintf("user%d@example.com", w.nextUser)),
				DepartmentID: pick(w, w.recordDepts[tenant]), Roles: subsetOf(w, w.roles), Active: w.r.IntN(2) == 0,
			}
		},
		randomFilter: func(w *world) crm.UserFilter {
			f := crm.UserFilter{DepartmentIDs: some(w, w.deptIDs)}
			if w.r.IntN(2) == 0 {
				f.Role = pick(w, slices.Concat(w.roles, []string{"admin"}))
			}
			if w.r.IntN(2) == 0 {
				f.Active = ptr(w.r.IntN(2) == 0)
			}
			if w.r.IntN(4) == 0 {
				f.Email = w.randomCase(fmt.Sprintf("user%d@example.com", 1+w.r.IntN(w.nextUser+2)))
			}
			return f
		},
		fixedFilters: func(w *world) []crm.UserFilter {
			return []crm.UserFilter{
				{}, {Active: ptr(true)}, {Active: ptr(false)}, {Role: "sales"},
				{Email: " USER3@Example.com "}, {Email: "nobody@example.com"},
			}
		},
		badFilters: []badFilter[crm.UserFilter]{
			{"RoleWithNUL", "role", crm.UserFilter{Role: "a\x00"}},
			{"TooManyDepartments", "department_ids", crm.UserFilter{DepartmentIDs: tooManyIDs()}},
		},
	}
}

func departmentKind() kind[crm.Department, crm.DepartmentFilter, *crm.Department, *crm.DepartmentFilter] {
	return kind[crm.Department, crm.DepartmentFilter, *crm.Department, *crm.DepartmentFilter]{
		name: "department",
		repo: func(tx crm.Tx) crm.DepartmentRepository { return tx.Departments() },
		full: func(e *env, ctx context.Context) *crm.Department {
			parent := &crm.Department{Meta: crm.Meta{ID: e.ids.NewID()}, Name: "总公司"}
			if err := e.store.Departments().Create(ctx, parent); err != nil {
				e.t.Fatalf("create parent department: %v", err)
			}
			return &crm.Department{
				Meta: crm.Meta{ID: e.ids.NewID()}, Name: "华东销售部", ParentID: parent.ID,
				ManagerID: e.ids.NewID(), Fields: fullFields("department"),
			}
		},
		minimal: func(e *env, _ context.Context) *crm.Department {
			return &crm.Department{Meta: crm.Meta{ID: e.ids.NewID()}, Name: "Sales"}
		},
		change: func(e *env, ctx context.Context, d *crm.Department) {
			parent := &crm.Department{Meta: crm.Meta{ID: e.ids.NewID()}, Name: "New parent"}
			if err := e.store.Departments().Create(ctx, parent); err != nil {
				e.t.Fatalf("create parent department: %v", err)
			}
			d.Name, d.ParentID, d.ManagerID = "East China sales", parent.ID, crm.NilID
			d.Fields = changedFields()
		},
		scribble: func(d *crm.Department) { scribbleFields(d.Fields) },
		fields:   func(d *crm.Department) *crm.Fields { return &d.Fields },
		invalid: []invalidCase[crm.Department]{
			{"MissingName", "name", func(d *crm.Department) { d.Name = " " }},
			{"OwnParent", "parent_id", func(d *crm.Department) { d.ParentID = d.ID }},
			{"UnknownParent", "parent_id", func(d *crm.Department) { d.ParentID = crm.ID{0xde, 0xad} }},
		},
		random: func(w *world, tenant string) *crm.Department {
			d := &crm.Department{Name: "Dept"}
			if w.r.IntN(3) != 0 {
				d.ParentID = pick(w, w.depts[tenant]).ID
			}
			return d
		},
		randomFilter: func(w *world) crm.DepartmentFilter {
			if w.r.IntN(5) == 0 {
				return crm.DepartmentFilter{}
			}
			return crm.DepartmentFilter{ParentID: ptr(pick(w, w.deptIDs))}
		},
		fixedFilters: func(w *world) []crm.DepartmentFilter {
			return []crm.DepartmentFilter{{}, {ParentID: &crm.NilID}, {ParentID: &w.depts["a"][0].ID}}
		},
		seeded: func(w *world, tenant string) []*crm.Department { return w.depts[tenant] },
	}
}

func teamKind() kind[crm.Team, crm.TeamFilter, *crm.Team, *crm.TeamFilter] {
	return kind[crm.Team, crm.TeamFilter, *crm.Team, *crm.TeamFilter]{
		name: "team",
		repo: func(tx crm.Tx) crm.TeamRepository { return tx.Teams() },
		full: func(e *env, _ context.Context) *crm.Team {
			return &crm.Team{
				Meta: crm.Meta{ID: e.ids.NewID()}, Name: "华东电销组", DepartmentID: e.ids.NewID(),
				LeadID: e.ids.NewID(), MemberIDs: []crm.ID{e.ids.NewID(), e.ids.NewID(), e.ids.NewID()},
				Fields: fullFields("team"),
			}
		},
		minimal: func(e *env, _ context.Context) *crm.Team {
			return &crm.Team{Meta: crm.Meta{ID: e.ids.NewID()}, Name: "Tier 2"}
		},
		change: func(e *env, _ context.Context, t *crm.Team) {
			t.Name, t.DepartmentID, t.LeadID = "Tier 2 support", crm.NilID, e.ids.NewID()
			t.MemberIDs = []crm.ID{t.MemberIDs[2], e.ids.NewID()}
			t.Fields = changedFields()
		},
		scribble: func(t *crm.Team) {
			t.MemberIDs[0] = crm.ID{0xff}
			scribbleFields(t.Fields)
		},
		fields: func(t *crm.Team) *crm.Fields { return &t.Fields },
		invalid: []invalidCase[crm.Team]{
			{"MissingName", "name", func(t *crm.Team) { t.Name = "" }},
			{"NilMember", "member_ids[1]", func(t *crm.Team) { t.MemberIDs[1] = crm.NilID }},
			{"RepeatedMember", "member_ids[1]", func(t *crm.Team) { t.MemberIDs[1] = t.MemberIDs[0] }},
		},
		random: func(w *world, tenant string) *crm.Team {
			return &crm.Team{Name: "Team", DepartmentID: pick(w, w.recordDepts[tenant]), MemberIDs: subsetOf(w, w.users)}
		},
		randomFilter: func(w *world) crm.TeamFilter {
			f := crm.TeamFilter{DepartmentIDs: some(w, w.deptIDs)}
			if w.r.IntN(2) == 0 {
				f.MemberID = pick(w, slices.Concat(w.users, []crm.ID{w.randomID()}))
			}
			return f
		},
		fixedFilters: func(w *world) []crm.TeamFilter {
			return []crm.TeamFilter{{}, {MemberID: w.users[0]}, {DepartmentIDs: []crm.ID{crm.NilID}}}
		},
		badFilters: []badFilter[crm.TeamFilter]{
			{"TooManyDepartments", "department_ids", crm.TeamFilter{DepartmentIDs: tooManyIDs()}},
		},
	}
}

func taskKind() kind[crm.Task, crm.TaskFilter, *crm.Task, *crm.TaskFilter] {
	statuses := []crm.TaskStatus{crm.TaskOpen, crm.TaskDone, crm.TaskCancelled}
	subjects := func(w *world) []crm.Ref {
		return []crm.Ref{
			{Type: crm.TypeCustomer, ID: w.custs[0]}, {Type: crm.TypeCustomer, ID: w.custs[1]},
			{Type: crm.TypeLead, ID: w.custs[0]}, {Type: crm.TypeTicket, ID: w.custs[2]},
		}
	}
	// window returns a random window whose bounds fall on the world's
	// times and a microsecond either side.
	window := func(w *world) *crm.Window {
		at := func() time.Time {
			t := pick(w, w.times)
			return t.Add(time.Duration(w.r.IntN(3)-1) * time.Microsecond)
		}
		from, to := at(), at()
		if !from.Before(to) {
			from, to = to, from.Add(time.Microsecond)
		}
		return &crm.Window{From: from, To: to}
	}
	return kind[crm.Task, crm.TaskFilter, *crm.Task, *crm.TaskFilter]{
		name: "task",
		repo: func(tx crm.Tx) crm.TaskRepository { return tx.Tasks() },
		full: func(e *env, _ context.Context) *crm.Task {
			start := nanoTime(12, 123456789)
			return &crm.Task{
				Meta: crm.Meta{ID: e.ids.NewID()}, Kind: crm.TaskAppointment, Title: "季度回访",
				Note: "带上合同草稿。\nBring the draft.", Subject: crm.Ref{Type: crm.TypeOpportunity, ID: e.ids.NewID()},
				AssigneeID: e.ids.NewID(), DepartmentID: e.ids.NewID(), CreatedBy: e.ids.NewID(),
				Status: crm.TaskDone, DueAt: start, RemindAt: ptr(nanoTime(11, 999)),
				StartAt: ptr(start), EndAt: ptr(nanoTime(12, 987654321).Add(time.Hour)),
				Recurrence:  &crm.Recurrence{Every: 2, Unit: crm.EveryWeek, Until: ptr(nanoTime(28, 5)), Count: 3},
				SeriesStart: ptr(nanoTime(5, 123456789)), Occurrence: 2, PreviousID: e.ids.NewID(),
				CompletedBy: e.ids.NewID(), CompletedAt: ptr(nanoTime(12, 555)), Fields: fullFields("task"),
			}
		},
		minimal: func(e *env, _ context.Context) *crm.Task {
			return &crm.Task{
				Meta: crm.Meta{ID: e.ids.NewID()}, Title: "Call back",
				Subject: crm.Ref{Type: crm.TypeLead, ID: e.ids.NewID()}, AssigneeID: e.ids.NewID(), DueAt: nanoTime(2, 2),
			}
		},
		change: func(e *env, _ context.Context, t *crm.Task) {
			t.Kind, t.Title, t.Note = crm.TaskTodo, "Send the quote", ""
			t.Subject, t.AssigneeID = crm.Ref{Type: crm.TypeContact, ID: e.ids.NewID()}, e.ids.NewID()
			t.DepartmentID, t.CreatedBy = crm.NilID, crm.NilID
			t.Status, t.DueAt, t.RemindAt, t.StartAt, t.EndAt = crm.TaskCancelled, nanoTime(14, 14), nil, nil, nil
			t.Recurrence = &crm.Recurrence{Every: 1, Unit: crm.EveryMonth}
			t.SeriesStart, t.Occurrence, t.PreviousID = ptr(nanoTime(14, 14)), 1, crm.NilID
			t.CompletedBy, t.CompletedAt = crm.NilID, nil
			t.Fields = changedFields()
		},
		scribble: func(t *crm.Task) {
			*t.RemindAt, *t.StartAt, *t.EndAt = time.Time{}, time.Time{}, time.Time{}
			*t.Recurrence.Until = time.Time{}
			t.Recurrence.Every = 99
			*t.SeriesStart, *t.CompletedAt = time.Time{}, time.Time{}
			scribbleFields(t.Fields)
		},
		fields: func(t *crm.Task) *crm.Fields { return &t.Fields },
		invalid: []invalidCase[crm.Task]{
			{"MissingTitle", "title", func(t *crm.Task) { t.Title = " " }},
			{"UnknownKind", "kind", func(t *crm.Task) { t.Kind = "chore" }},
			{"UnknownStatus", "status", func(t *crm.Task) { t.Status = "later" }},
			{"SubjectOfWrongType", "subject.type", func(t *crm.Task) { t.Subject.Type = crm.TypeUser }},
			{"MissingAssignee", "assignee_id", func(t *crm.Task) { t.AssigneeID = crm.NilID }},
			{"ReminderAfterDue", "remind_at", func(t *crm.Task) { t.RemindAt = ptr(t.DueAt.Add(time.Minute)) }},
			{"AppointmentEndingBeforeItStarts", "end_at", func(t *crm.Task) { t.EndAt = ptr(t.StartAt.Add(-time.Minute)) }},
			{"AppointmentWithoutStart", "start_at", func(t *crm.Task) { t.StartAt = nil }},
			{"ToDoWithAnEnd", "end_at", func(t *crm.Task) { t.Kind, t.StartAt = crm.TaskTodo, nil }},
			{"RecurrenceUntilBeforeTheSecondOccurrence", "recurrence.until", func(t *crm.Task) {
				t.Recurrence.Until = ptr(t.SeriesStart.Add(time.Hour))
			}},
			{"RecurrenceOfOneOccurrence", "recurrence.count", func(t *crm.Task) { t.Recurrence.Count, t.Occurrence = 1, 1 }},
			{"RecurrenceOfUnknownUnit", "recurrence.unit", func(t *crm.Task) { t.Recurrence.Unit = "year" }},
			{"DoneWithoutCompletedAt", "completed_at", func(t *crm.Task) { t.CompletedAt = nil }},
			{"OpenWithACompletingActivity", "completed_by", func(t *crm.Task) { t.Status, t.CompletedAt = crm.TaskOpen, nil }},
		},
		random: func(w *world, tenant string) *crm.Task {
			t := &crm.Task{
				Title: "Task", Subject: pick(w, subjects(w)), AssigneeID: pick(w, w.users[:4]),
				DepartmentID: pick(w, w.recordDepts[tenant]), Status: pick(w, slices.Concat(statuses, []crm.TaskStatus{""})),
				DueAt: pick(w, w.times),
			}
			if t.Status == crm.TaskDone {
				t.CompletedAt = ptr(t.DueAt)
			}
			if w.r.IntN(2) == 0 {
				t.Kind, t.StartAt = crm.TaskAppointment, ptr(t.DueAt)
				t.EndAt = ptr(t.DueAt.Add(time.Duration(1+w.r.IntN(90)) * time.Minute))
			}
			return t
		},
		randomFilter: func(w *world) crm.TaskFilter {
			f := crm.TaskFilter{
				AssigneeIDs: some(w, w.users[:5]), DepartmentIDs: some(w, w.deptIDs),
				Statuses: some(w, statuses), Kinds: some(w, []crm.TaskKind{crm.TaskTodo, crm.TaskAppointment}),
				Scope: w.scope(),
			}
			if w.r.IntN(3) == 0 {
				f.Subject = ptr(pick(w, subjects(w)))
			}
			if w.r.IntN(2) == 0 {
				win := window(w)
				switch w.r.IntN(3) {
				case 0:
					f.DueFrom, f.DueBefore = &win.From, &win.To
				case 1:
					f.DueBefore = &win.To
				default:
					f.DueFrom = &win.From
				}
			}
			if w.r.IntN(3) == 0 {
				f.Overlapping = window(w)
			}
			return f
		},
		fixedFilters: func(w *world) []crm.TaskFilter {
			out := []crm.TaskFilter{
				{}, {Statuses: []crm.TaskStatus{crm.TaskOpen}}, {DueBefore: &w.times[3]}, {DueFrom: &w.times[3]},
				{Kinds: []crm.TaskKind{crm.TaskAppointment}, Overlapping: &crm.Window{From: w.times[2], To: w.times[4]}},
				{Overlapping: &crm.Window{From: w.times[3], To: w.times[3].Add(time.Microsecond)}},
				{Subject: &crm.Ref{Type: crm.TypeCustomer, ID: w.custs[0]}},
			}
			for _, s := range scopeEdges(w) {
				out = append(out, crm.TaskFilter{Scope: s})
			}
			return out
		},
		badFilters: []badFilter[crm.TaskFilter]{
			{"UnknownStatus", "statuses[0]", crm.TaskFilter{Statuses: []crm.TaskStatus{"later"}}},
			{"UnknownKind", "kinds[0]", crm.TaskFilter{Kinds: []crm.TaskKind{"chore"}}},
			{"EmptyDueRange", "due_before", crm.TaskFilter{DueFrom: ptr(nanoTime(2, 0)), DueBefore: ptr(nanoTime(1, 0))}},
			{"EmptyWindow", "overlapping.to", crm.TaskFilter{Overlapping: &crm.Window{From: nanoTime(2, 0), To: nanoTime(2, 0)}}},
			{"TooManyAssignees", "assignee_ids", crm.TaskFilter{AssigneeIDs: tooManyIDs()}},
		},
	}
}
