package dedupe_test

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/dedupe"
)

// plainStore is a store whose units of work lack the dedupe port.
type plainStore struct{ crm.Store }

func (s plainStore) InTx(ctx context.Context, fn func(ctx context.Context, tx crm.Tx) error) error {
	return s.Store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error { return fn(ctx, struct{ crm.Tx }{tx}) })
}

func TestNewServiceRefusesBadConfigurationNamingTheField(t *testing.T) {
	_, store := newExampleService()
	mt, err := dedupe.NewMatcher(&dedupe.Config{Fields: dedupe.CustomerFields()})
	require.NoError(t, err)
	other, err := dedupe.NewMatcher(&dedupe.Config{Fields: []dedupe.Field{{Name: "company", Kind: dedupe.KindCompany}}})
	require.NoError(t, err)
	for _, tc := range []struct {
		name  string
		store crm.Store
		mt    *dedupe.Matcher
		cfg   *dedupe.ServiceConfig
		field string
	}{
		{"NoStore", nil, mt, nil, "store"},
		{"NoMatcher", store, nil, nil, "matcher"},
		{"MatcherWithOtherFields", store, other, nil, "matcher"},
		{"PerKeyTooLarge", store, mt, &dedupe.ServiceConfig{PerKey: dedupe.MaxPerKey + 1}, "per_key"},
		{"NegativeLimit", store, mt, &dedupe.ServiceConfig{Limit: -1}, "limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dedupe.NewService(tc.store, tc.mt, tc.cfg)
			require.ErrorIs(t, err, crm.ErrInvalidArgument)
			var ve *crm.ValidationError
			require.ErrorAs(t, err, &ve)
			require.Equal(t, tc.field, ve.Field)
		})
	}
}

func TestEnterRefusesAPolicyThatWouldNeverApplyNamingTheField(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy dedupe.Policy
		field  string
	}{
		{"ANaNBlockScore", dedupe.Policy{BlockScore: math.NaN()}, "policy.block_score"},
		{"AnInfiniteWarnScore", dedupe.Policy{WarnScore: math.Inf(1)}, "policy.warn_score"},
		{"AWarningAboveTheBlockScore", dedupe.Policy{BlockScore: 4, WarnScore: 10}, "policy.warn_score"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			svc, store := newExampleService()
			_, err := svc.Enter(ctx, dedupe.EntryRequest{Customer: &crm.Customer{Name: "北京华腾科技有限公司"}, Policy: tc.policy})
			require.ErrorIs(t, err, crm.ErrInvalidArgument)
			var ve *crm.ValidationError
			require.ErrorAs(t, err, &ve)
			require.Equal(t, tc.field, ve.Field)
			page, err := store.Customers().List(ctx, crm.CustomerFilter{}, crm.PageRequest{Limit: crm.MaxPageLimit})
			require.NoError(t, err)
			require.Empty(t, page.Items, "nothing is stored")
		})
	}
}

func TestNewRefusesARegionWithoutTelephoneNumbersNamingTheField(t *testing.T) {
	for _, region := range []string{"XX", "C", "CHN"} {
		_, err := dedupe.NewMatcher(&dedupe.Config{Fields: dedupe.CustomerFields(), Region: region})
		require.ErrorIs(t, err, crm.ErrInvalidArgument, region)
		var ve *crm.ValidationError
		require.ErrorAs(t, err, &ve)
		require.Equal(t, "region", ve.Field)
	}
	_, err := dedupe.NewMatcher(&dedupe.Config{Fields: dedupe.CustomerFields(), Region: "de"})
	require.NoError(t, err, "a region is read in either case")
}

func TestKeysOfCompaniesAndPersons(t *testing.T) {
	svc, _ := newExampleService()
	id := crm.ID{1}
	require.Equal(t, dedupe.RecordKeys{RecordID: id, Strong: "company:华腾科技@北京", Keys: []dedupe.Key{
		{Kind: dedupe.KeyCompany, Value: "华腾科技"},
		{Kind: dedupe.KeyPhone, Value: "+8613800138000"},
		{Kind: dedupe.KeyEmail, Value: "info@huateng.example"},
		{Kind: dedupe.KeyAddress, Value: "海淀区中关村大街1号"},
	}}, svc.Keys(&crm.Customer{Meta: crm.Meta{ID: id}, Name: "华腾科技(北京)有限公司", Phone: "+86 138-0013-8000",
		Email: " Info@HuaTeng.example ", Address: "北京市海淀区中关村大街1号院2号楼"}))
	require.Equal(t, dedupe.RecordKeys{RecordID: id, Strong: "person:李伟|+8613800138000", Keys: []dedupe.Key{
		{Kind: dedupe.KeyName, Value: "li wei"},
		{Kind: dedupe.KeyPhone, Value: "+8613800138000"},
	}}, svc.Keys(&crm.Customer{Meta: crm.Meta{ID: id}, Kind: crm.CustomerPerson, Name: "李伟先生", Phone: "13800138000"}))
	require.Equal(t, dedupe.RecordKeys{RecordID: id, Keys: []dedupe.Key{{Kind: dedupe.KeyName, Value: "li wei"}}},
		svc.Keys(&crm.Customer{Meta: crm.Meta{ID: id}, Kind: crm.CustomerPerson, Name: "李薇"}), "a person without a phone has no strong key")
}

func TestAWarningEntryIsStoredWithItsCandidates(t *testing.T) {
	ctx := context.Background()
	svc, store := newExampleService()
	_, err := svc.Enter(ctx, dedupe.EntryRequest{Customer: &crm.Customer{Name: "北京华腾科技有限公司", Phone: "13800138000"}})
	require.NoError(t, err)
	c := &crm.Customer{Name: "华腾科技有限公司", Phone: "13800138000"}
	res, err := svc.Enter(ctx, dedupe.EntryRequest{Customer: c, Policy: dedupe.Policy{WarnScore: 4}})
	require.NoError(t, err)
	require.Equal(t, dedupe.Warn, res.Action)
	require.Len(t, res.Candidates, 1)
	require.NotEqual(t, crm.NilID, c.ID, "the stored ID is written back")
	require.Equal(t, int64(1), c.Version)
	got, err := store.Customers().Get(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, "华腾科技有限公司", got.Name)
}

func TestAnInvalidCustomerIsRefusedNamingTheField(t *testing.T) {
	svc, store := newExampleService()
	_, err := svc.Enter(context.Background(), dedupe.EntryRequest{Customer: &crm.Customer{Phone: "13800138000"}})
	var ve *crm.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "name", ve.Field)
	_, err = svc.Enter(context.Background(), dedupe.EntryRequest{})
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "customer", ve.Field)
	p, err := store.Customers().List(context.Background(), crm.CustomerFilter{}, crm.PageRequest{})
	require.NoError(t, err)
	require.Empty(t, p.Items)
}

func TestAStoreWithoutTheDedupePortIsErrUnsupported(t *testing.T) {
	_, store := newExampleService()
	mt, err := dedupe.NewMatcher(&dedupe.Config{Fields: dedupe.CustomerFields()})
	require.NoError(t, err)
	svc, err := dedupe.NewService(plainStore{store}, mt, nil)
	require.NoError(t, err)
	_, err = svc.Check(context.Background(), &crm.Customer{Name: "华腾科技"})
	require.ErrorIs(t, err, crm.ErrUnsupported)
	_, err = svc.Enter(context.Background(), dedupe.EntryRequest{Customer: &crm.Customer{Name: "华腾科技"}})
	require.ErrorIs(t, err, crm.ErrUnsupported)
}

// FuzzKeys checks that every customer's keys are valid for the key port,
// whatever was typed: otherwise an odd value would make an entry fail.
func FuzzKeys(f *testing.F) {
	for _, s := range [][4]string{
		{"华腾科技(北京)有限公司", "+86 138-0013-8000", "Info@HuaTeng.example", "北京市海淀区中关村大街1号"},
		{"Acme Widgets Ltd.", "+44 20 7946 0958", "a@b", "1 Main Street"},
		{"\x00\xff有限公司", "0086", "@", "\u3000"},
		{"", "", "", ""},
	} {
		f.Add(s[0], s[1], s[2], s[3], false)
		f.Add(s[0], s[1], s[2], s[3], true)
	}
	svc, _ := newExampleService()
	f.Fuzz(func(t *testing.T, name, phone, email, address string, person bool) {
		c := &crm.Customer{Meta: crm.Meta{ID: crm.ID{1}}, Name: name, Phone: phone, Email: email, Address: address}
		if person {
			c.Kind = crm.CustomerPerson
		}
		keys := svc.Keys(c)
		require.NoError(t, keys.Validate())
	})
}

func TestDecideBlocksOnTheStrongKeyHolderAndStoredKeys(t *testing.T) {
	ctx := context.Background()
	svc, store := newExampleService()
	first := &crm.Customer{Name: "北京华腾科技有限公司", Phone: "13800138000"}
	_, err := svc.Enter(ctx, dedupe.EntryRequest{Customer: first})
	require.NoError(t, err)
	second := &crm.Customer{Name: "华腾科技有限公司", Phone: "13800138000"}
	_, err = svc.Enter(ctx, dedupe.EntryRequest{Customer: second})
	require.NoError(t, err)

	err = store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		// A new customer with first's strong key is blocked, first first,
		// whatever the policy.
		action, cands, err := svc.DecideTx(ctx, tx, &crm.Customer{Name: "华腾科技(北京)有限公司"}, dedupe.Policy{})
		require.NoError(t, err)
		require.Equal(t, dedupe.Block, action)
		require.Equal(t, first.ID, cands[0].CustomerID)
		require.True(t, cands[0].Strong)

		// A stored customer, checked on its stored keys, decides as a
		// check computing them does, and never finds itself.
		policy := dedupe.Policy{BlockScore: 10}
		wantAction, want, err := svc.DecideTx(ctx, tx, second, policy)
		require.NoError(t, err)
		action, cands, err = svc.DecideStoredTx(ctx, tx, second, policy)
		require.NoError(t, err)
		require.Equal(t, wantAction, action)
		require.Equal(t, want, cands)
		require.Equal(t, dedupe.Block, action)
		require.Equal(t, first.ID, cands[0].CustomerID)
		for _, c := range cands {
			require.NotEqual(t, second.ID, c.CustomerID)
		}
		return nil
	})
	require.NoError(t, err)
}
