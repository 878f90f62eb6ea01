package crmkit_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/segment"
	"github.com/crmkit/crmkit/store/memstore"
)

func TestSegmentMembersListsTaggedCustomersAndNeedsAViewer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := memstore.New(nil)
	c, err := crmkit.New(store, nil)
	require.NoError(t, err)
	ids := crmtest.NewIDs()
	vip := crmtest.Customer(ids, func(c *crm.Customer) { c.Tags = []string{"vip"} })
	other := crmtest.Customer(ids)
	require.NoError(t, store.Customers().Create(ctx, vip))
	require.NoError(t, store.Customers().Create(ctx, other))
	seg, err := segment.Parse([]byte(`{"id": "vip", "when": {"field": "tags", "equals": "vip"}}`))
	require.NoError(t, err)

	_, err = c.SegmentMembers(ctx, crmkit.SegmentMembersRequest{Segment: seg})
	require.ErrorIs(t, err, crm.ErrInvalidArgument)
	require.Contains(t, err.Error(), "viewer")

	page, err := c.SegmentMembers(ctx, crmkit.SegmentMembersRequest{Viewer: ids.NewID(), Segment: seg})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	require.Equal(t, vip.ID, page.Items[0].Customer.ID)
}
