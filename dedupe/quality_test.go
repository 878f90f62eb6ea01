package dedupe

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// sharedData returns the path of a file under the shared data folder, found
// from the module root, or skips the test when the folder is absent.
func sharedData(t testing.TB, rel string) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("no go.mod above the test directory; shared data unavailable")
		}
		dir = parent
	}
	p := filepath.Join(dir, "..", "shared", "data", rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared data %s is absent (%v): quality figures need ../shared/data next to the module", rel, err)
	}
	return p
}

// readTable reads a CSV file as exported: ", " separators, trimmed cells.
func readTable(t testing.TB, path string) (header []string, rows [][]string) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	r := csv.NewReader(f)
	r.TrimLeadingSpace = true
	r.FieldsPerRecord = -1
	all, err := r.ReadAll()
	require.NoError(t, err)
	for i := range all {
		for j := range all[i] {
			all[i][j] = strings.TrimSpace(all[i][j])
		}
	}
	return all[0], all[1:]
}

// pairF1 compares predicted clusters with true entity labels, pair by pair.
func pairF1(c *Clustering, truth []string) (precision, recall, f1 float64) {
	tp, fp := 0, 0
	c.Pairs(func(i, j int) {
		if truth[i] == truth[j] {
			tp++
		} else {
			fp++
		}
	})
	byEntity := map[string]int{}
	for _, e := range truth {
		byEntity[e]++
	}
	actual := 0
	for _, n := range byEntity {
		actual += n * (n - 1) / 2
	}
	if tp+fp == 0 || actual == 0 {
		return 0, 0, 0
	}
	precision = float64(tp) / float64(tp+fp)
	recall = float64(tp) / float64(actual)
	if precision+recall == 0 {
		return precision, recall, 0
	}
	return precision, recall, 2 * precision * recall / (precision + recall)
}

func febrlMatcher(t testing.TB) *Matcher {
	m, err := NewMatcher(&Config{Fields: []Field{
		{Name: "given_name", Kind: KindGivenName},
		{Name: "surname", Kind: KindFamilyName},
		{Name: "street_number", Kind: KindText},
		{Name: "address_1", Kind: KindStreet},
		{Name: "address_2", Kind: KindText},
		{Name: "suburb", Kind: KindCity},
		{Name: "postcode", Kind: KindPostcode},
		{Name: "state", Kind: KindState},
		{Name: "date_of_birth", Kind: KindDate},
		{Name: "soc_sec_id", Kind: KindNationalID},
	}})

	require.NoError(t, err)
	return m
}

func febrlRecords(t testing.TB, file string) ([]Record, []string) {
	header, rows := readTable(t, sharedData(t, filepath.Join("febrl", file)))
	require.Equal(t, "rec_id", header[0])
	recs := make([]Record, len(rows))
	truth := make([]string, len(rows))
	for i, row := range rows {
		recs[i] = Record{ID: row[0], Values: row[1:]}
		parts := strings.Split(row[0], "-")
		truth[i] = parts[1]
	}
	return recs, truth
}

func TestClusterQualityOnFEBRL(t *testing.T) {
	t.Parallel()
	for _, file := range []string{"dataset1.csv", "dataset2.csv", "dataset3.csv"} {
		t.Run("ReachesF1AtLeast0999On"+strings.TrimSuffix(file, ".csv"), func(t *testing.T) {
			recs, truth := febrlRecords(t, file)
			res, err := febrlMatcher(t).Cluster(Records(recs), nil)
			require.NoError(t, err)
			p, r, f1 := pairF1(res, truth)
			t.Logf("FEBRL %s: precision %.4f recall %.4f F1 %.4f (%d candidate pairs, %d clusters, prior %.4f)",
				file, p, r, f1, res.Stats.CandidatePairs, res.Stats.Clusters, res.Matcher.prior)
			require.GreaterOrEqual(t, f1, 0.999)
		})
	}
}

func TestClusterQualityOnRestaurants(t *testing.T) {
	t.Parallel()
	header, rows := readTable(t, sharedData(t, "restaurants/restaurant-nophone-training.csv"))
	require.Equal(t, []string{"name", "address", "city", "cuisine", "unique_id"}, header)
	fields := []Field{
		{Name: "name", Kind: KindCompany},
		{Name: "address", Kind: KindAddress},
		{Name: "city", Kind: KindCity},
		{Name: "cuisine", Kind: KindText},
	}
	recs := make([]Record, len(rows))
	truth := make([]string, len(rows))
	for i, row := range rows {
		recs[i] = Record{ID: row[4], Values: row[:4]}
		truth[i] = strings.Trim(row[4], "'")
	}
	res, q := clusterQuality(t, fields, "US", recs, truth)
	t.Logf("restaurants: precision %.4f recall %.4f F1 %.4f (%d candidate pairs)", q[0], q[1], q[2], res.Stats.CandidatePairs)
	require.GreaterOrEqual(t, q[2], 0.92)
}

// TestClusterQualityOnRestaurantsWithSharedPhones gives the restaurants
// phone numbers as hotels and malls have them: one number a restaurant,
// except that restaurants at one building often share its switchboard.
// Agreement on a shared number must not join two restaurants.
func TestClusterQualityOnRestaurantsWithSharedPhones(t *testing.T) {
	t.Parallel()
	_, rows := readTable(t, sharedData(t, "restaurants/restaurant-nophone-training.csv"))
	fields := []Field{{Name: "name", Kind: KindCompany}, {Name: "address", Kind: KindAddress}, {Name: "city", Kind: KindCity}, {Name: "cuisine", Kind: KindText}, {Name: "phone", Kind: KindPhone}}
	// One number per restaurant; restaurants at one building share its
	// switchboard.
	building := map[string]string{}
	phone := map[string]string{}
	n := 0
	for _, row := range rows {
		id := strings.Trim(row[4], "'")
		key := contactKey(KindAddress, NormaliseAddress(row[1]))
		if _, ok := phone[id]; ok {
			continue
		}
		if b, ok := building[key]; ok && n%2 == 0 {
			phone[id] = b
		} else {
			phone[id] = fmt.Sprintf("212-%03d-%04d", 200+n%700, (n*7919)%10000)
			building[key] = phone[id]
		}
		n++
	}
	recs := make([]Record, len(rows))
	truth := make([]string, len(rows))
	for i, row := range rows {
		id := strings.Trim(row[4], "'")
		recs[i] = Record{ID: row[4], Values: append(append([]string{}, row[:4]...), phone[id])}
		truth[i] = id
	}
	res, q := clusterQuality(t, fields, "US", recs, truth)
	t.Logf("restaurants with shared phones: precision %.4f recall %.4f F1 %.4f (%d candidate pairs)", q[0], q[1], q[2], res.Stats.CandidatePairs)
	require.GreaterOrEqual(t, q[2], 0.95)
}
