package crm_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
)

func TestQueueCursorsRoundTripAndRefuseOtherQueues(t *testing.T) {
	t.Parallel()
	k := crm.QueueKey{DueAt: time.Date(2026, 3, 1, 9, 30, 0, 123456789, time.UTC), ID: crm.ID{1, 2, 3}}
	cur := crm.QueueCursor("a", k)
	limit, after, err := crm.ResolveQueuePage("a", "a", crm.PageRequest{Cursor: cur})
	require.NoError(t, err)
	require.Equal(t, crm.DefaultPageLimit, limit)
	require.Equal(t, crm.QueueKey{DueAt: crm.StorageTime(k.DueAt), ID: k.ID}, *after)
	for _, bad := range []string{crm.CursorAfter(k.ID), cur[:len(cur)-2], "b" + cur[1:], "a.!!"} {
		_, _, err := crm.ResolveQueuePage("a", "a", crm.PageRequest{Cursor: bad})
		var ve *crm.ValidationError
		require.ErrorAs(t, err, &ve, bad)
		require.Equal(t, "page.cursor", ve.Field)
	}
	_, _, err = crm.ResolveQueuePage("a", "a", crm.PageRequest{Limit: crm.MaxPageLimit + 1, Cursor: cur})
	require.ErrorContains(t, err, "page.limit")
}

func FuzzResolveQueuePage(f *testing.F) {
	f.Add(crm.QueueCursor("t", crm.QueueKey{DueAt: time.Unix(1e9, 0), ID: crm.ID{9}}), 10)
	f.Add("t.", 0)
	f.Add("", -1)
	f.Fuzz(func(t *testing.T, cursor string, limit int) {
		n, after, err := crm.ResolveQueuePage("t", "t", crm.PageRequest{Limit: limit, Cursor: cursor})
		if err != nil {
			var ve *crm.ValidationError
			require.ErrorAs(t, err, &ve)
			require.Contains(t, []string{"page.limit", "page.cursor"}, ve.Field)
			return
		}
		require.True(t, n >= 1 && n <= crm.MaxPageLimit)
		if after != nil {
			require.Equal(t, cursor, crm.QueueCursor("t", *after))
		}
	})
}
