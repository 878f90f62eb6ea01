package lead_test

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/lead"
)

func TestIDLikeFindsColumnsOfNearlyUniqueValues(t *testing.T) {
	t.Parallel()
	tbl := &lead.Table{Columns: []string{"id", "number", "source", "phone", "label"}}
	for i := range 40 {
		phone := "138" + strconv.Itoa(10000000+i)
		if i == 7 {
			phone = "" // a blank does not count
		}
		tbl.Rows = append(tbl.Rows, []string{"L-" + strconv.Itoa(i), strconv.Itoa(i % 39), []string{"web", "fair"}[i%2], phone, "yes"})
	}
	require.Equal(t, []string{"number", "phone"}, lead.IDLike(tbl, "id", "label"),
		"39 of 40 distinct is 97.5%; a two-value column is a feature")
	tbl.Rows = tbl.Rows[:19]
	require.Empty(t, lead.IDLike(tbl, "id"), "under 20 rows nothing is judged")
}
