package segment

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"github.com/crmkit/crmkit/crm"
)

// Name names an RFM segment.
type Name string

// The RFM segments. A customer's segment follows from its recency score R
// and FM, the mean of its frequency and monetary scores rounded half up
// ((F+M+1)/2), by the grid of [Classify]:
//
//	R \ FM     1               2                    3                    4           5
//	5          new             potential_loyalists  potential_loyalists  champions   champions
//	4          promising       potential_loyalists  potential_loyalists  loyal       champions
//	3          about_to_sleep  need_attention       need_attention       loyal       loyal
//	2          hibernating     about_to_sleep       at_risk              at_risk     cant_lose
//	1          lost            hibernating          at_risk              cant_lose   cant_lose
const (
	// Champions bought recently (R 4-5) and buy often and much (FM 4-5;
	// FM 5 with R 4).
	Champions Name = "champions"
	// Loyal buy often and much (FM 4-5) but less recently (R 3-4).
	Loyal Name = "loyal"
	// PotentialLoyalists bought recently (R 4-5) with middling frequency
	// and value (FM 2-3).
	PotentialLoyalists Name = "potential_loyalists"
	// Newcomers ("new") bought very recently (R 5) for the first times (FM 1).
	Newcomers Name = "new"
	// Promising bought recently (R 4) but little (FM 1).
	Promising Name = "promising"
	// NeedAttention sit in the middle (R 3, FM 2-3).
	NeedAttention Name = "need_attention"
	// AboutToSleep are slipping away after little business (R 3 with FM
	// 1, R 2 with FM 2).
	AboutToSleep Name = "about_to_sleep"
	// AtRisk bought fairly much (FM 3-4) long ago (R 1-2; R 1 with FM 3).
	AtRisk Name = "at_risk"
	// CantLose bought the most (FM 5, or FM 4 with R 1) and have not come
	// back for long (R 1-2).
	CantLose Name = "cant_lose"
	// Hibernating bought little long ago (R 2 with FM 1, R 1 with FM 2).
	Hibernating Name = "hibernating"
	// Lost bought least and longest ago (R 1, FM 1).
	Lost Name = "lost"
)

// grid[r-1][fm-1] is the segment of scores r and fm.
var grid = [5][5]Name{
	{Lost, Hibernating, AtRisk, CantLose, CantLose},
	{Hibernating, AboutToSleep, AtRisk, AtRisk, CantLose},
	{AboutToSleep, NeedAttention, NeedAttention, Loyal, Loyal},
	{Promising, PotentialLoyalists, PotentialLoyalists, Loyal, Champions},
	{Newcomers, PotentialLoyalists, PotentialLoyalists, Champions, Champions},
}

// Names returns every segment name, in the order of the [Name] constants.
func Names() []Name {
	return []Name{Champions, Loyal, PotentialLoyalists, Newcomers, Promising, NeedAttention, AboutToSleep, AtRisk, CantLose, Hibernating, Lost}
}

// Valid reports whether n is one of [Names].
func (n Name) Valid() bool { return slices.Contains(Names(), n) }

// Classify returns the segment of scores r, f and m (each 1 to 5), by the
// grid documented at [Name]; a score out of range is clamped.
func Classify(r, f, m int) Name {
	fm := (clamp(f) + clamp(m) + 1) / 2
	return grid[clamp(r)-1][fm-1]
}

// Grid returns the segments of the grid row by row: element
// (r-1)*5 + fm-1 is the segment of R r and FM fm. Adapters that classify in
// SQL take it as a parameter, so the grid is written once, here.
func Grid() []string {
	out := make([]string, 0, 25)
	for _, row := range grid {
		for _, n := range row {
			out = append(out, string(n))
		}
	}
	return out
}

func clamp(s int) int { return min(max(s, 1), 5) }

// Quintile is the 1-5 score of a value among n scored values when below of
// them are strictly worse: 1 + floor(5*below/n). Equal values share a
// score (ties take the score of their lowest rank), so the score of a
// customer never depends on the order rows are read in; a tenant whose
// customers all tie scores 1 throughout. In SQL it is
// 1 + 5*(rank() OVER (ORDER BY v) - 1) / count(*) OVER (), in integers.
//
// Recency is better when the last won deal is later, frequency when the
// count is higher, monetary when the sum is higher.
func Quintile(below, n int) int {
	if n <= 0 {
		return 1
	}
	return 1 + 5*below/n
}

// Score is a customer's RFM standing, as [Service.Compute] stored it. Safe
// for concurrent reads.
type Score struct {
	CustomerID crm.ID `json:"customer_id"`
	// LastWonAt is when the customer's latest won opportunity closed
	// (its ClosedAt, or its last update when ClosedAt is unset).
	LastWonAt time.Time `json:"last_won_at"`
	// Frequency is the number of its won opportunities.
	Frequency int `json:"frequency"`
	// Monetary is the sum of their amounts, converted into the
	// computation's currency.
	Monetary crm.Money `json:"monetary"`
	// R, F and M are the 1-5 scores ([Quintile]) of recency, frequency
	// and monetary value among the tenant's scored customers.
	R int `json:"r"`
	F int `json:"f"`
	M int `json:"m"`
	// Segment is [Classify] of R, F and M.
	Segment    Name      `json:"segment"`
	ComputedAt time.Time `json:"computed_at"`
}

// RecencyDays is the number of whole days from LastWonAt to asOf, 0 when
// LastWonAt is later.
func (s *Score) RecencyDays(asOf time.Time) int {
	d := asOf.Sub(s.LastWonAt)
	if d < 0 {
		return 0
	}
	return int(d / (24 * time.Hour))
}

// Rates converts won amounts into one currency: Rates[c] is how many units
// of the computation's currency one unit of currency c is worth. Amounts
// are never converted without a rate the host gave.
type Rates map[string]decimal.Decimal

// ComputeRequest asks for RFM scores. Scores rank customers by money in
// one currency: every won amount in another currency is converted with a
// rate the caller gives, and a won amount in a currency without a rate
// fails the computation, naming the currency, rather than being mixed in
// or left out.
type ComputeRequest struct {
	// Currency is the ISO 4217 currency monetary value is summed in.
	// Required.
	Currency string `json:"currency"`
	// Rates converts the other currencies won deals are in.
	Rates Rates `json:"rates,omitempty"`
}

func (r *ComputeRequest) validate() error {
	var v crm.Problems
	if !crm.ValidCurrency(r.Currency) {
		v.Add("currency", "must be an ISO 4217 currency, got %q", truncate(r.Currency))
	}
	for _, c := range slices.Sorted(maps.Keys(r.Rates)) {
		f := "rates." + truncate(c)
		switch {
		case !crm.ValidCurrency(c):
			v.Add(f, "is not an ISO 4217 currency")
		case !r.Rates[c].IsPositive():
			v.Add(f, "must be positive, got %s", r.Rates[c].String())
		}
	}
	return v.Err()
}

// ComputeQuery is what an adapter's [Store.ComputeRFM] computes with:
// every currency won deals are in, with its rate into Currency (1 for
// Currency itself), the grid ([Grid]) and the time the scores are stamped
// with.
type ComputeQuery struct {
	Currency string
	Rates    Rates
	Grid     []string
	Now      time.Time
}

// query resolves the request against the currencies won deals are in.
func (r *ComputeRequest) query(currencies []string, now time.Time) (ComputeQuery, error) {
	q := ComputeQuery{Currency: r.Currency, Rates: Rates{r.Currency: decimal.NewFromInt(1)}, Grid: Grid(), Now: crm.StorageTime(now)}
	var v crm.Problems
	for _, c := range currencies {
		if c == r.Currency {
			continue
		}
		rate, ok := r.Rates[c]
		if !ok {
			v.Add("rates."+truncate(c), "won opportunities are in %s: give its rate into %s", truncate(c), r.Currency)
			continue
		}
		q.Rates[c] = rate
	}
	return q, v.Err()
}

func truncate(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}

// RankScores sets R, F, M and Segment of every score by [Quintile] and
// [Classify]. It is the computation an in-memory adapter runs; SQL
// adapters compute the same with window functions.
func RankScores(scores []*Score) {
	n := len(scores)
	below := func(cmp func(a, b *Score) int, set func(s *Score, q int)) {
		sorted := slices.Clone(scores)
		slices.SortFunc(sorted, cmp)
		start := 0
		for i := range sorted {
			if i > 0 && cmp(sorted[i-1], sorted[i]) != 0 {
				start = i
			}
			set(sorted[i], Quintile(start, n))
		}
	}
	below(func(a, b *Score) int { return a.LastWonAt.Compare(b.LastWonAt) }, func(s *Score, q int) { s.R = q })
	below(func(a, b *Score) int { return a.Frequency - b.Frequency }, func(s *Score, q int) { s.F = q })
	below(func(a, b *Score) int { return a.Monetary.Amount().Cmp(b.Monetary.Amount()) }, func(s *Score, q int) { s.M = q })
	for _, s := range scores {
		s.Segment = Classify(s.R, s.F, s.M)
	}
}

// Convert returns amount in currency c, in q's currency. A zero amount
// (an opportunity not estimated) is zero in any currency; any other
// amount in a currency without a rate is an error naming it.
func (q *ComputeQuery) Convert(amount crm.Money) (decimal.Decimal, error) {
	if amount.IsZero() {
		return decimal.Zero, nil
	}
	rate, ok := q.Rates[amount.Currency()]
	if !ok {
		return decimal.Zero, fmt.Errorf("segment: no rate for %s: %w", amount.Currency(), crm.ErrInvalidArgument)
	}
	return amount.Amount().Mul(rate), nil
}
