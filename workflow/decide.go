package workflow

import (
	"fmt"
	"strings"
	"time"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/workflow/calendar"
)

// Cursor is the round-robin position of one rule: the member chosen last
// and a version that increases with every move. Adapters store it per rule
// set and rule, and move it only from the version a decision read
// (compare-and-swap), which keeps rotation fair across application
// instances.
type Cursor struct {
	Last    crm.ID `json:"last,omitzero"`
	Version int64  `json:"version"`
}

// State is what routing decisions read besides the record: the round-robin
// cursor of each rule and the open-item load and daily routing count of
// each member. Decisions never change it; [State.Apply] does, and the
// persistence port stores it. Build it with [Router.NewState]. A State is
// not safe for concurrent mutation.
type State struct {
	router  *Router
	cursors []Cursor
	loads   []int32
	daily   []int32
}

// NewState returns a zero state for r: no cursors, no load, no routing today.
func (r *Router) NewState() *State {
	return &State{router: r, cursors: make([]Cursor, len(r.rules)), loads: make([]int32, len(r.members)), daily: make([]int32, len(r.members))}
}

// SetCursor sets the cursor of the named rule; an unknown rule is a
// [*crm.ValidationError] (the rule set changed since the state was saved).
func (s *State) SetCursor(rule string, c Cursor) error {
	i, ok := s.router.ruleIdx[rule]
	if !ok {
		return crm.Invalid("rule", "unknown rule %q", truncate(rule))
	}
	s.cursors[i] = c
	return nil
}

// Cursor returns the cursor of the named rule (zero when unknown).
func (s *State) Cursor(rule string) Cursor {
	if i, ok := s.router.ruleIdx[rule]; ok {
		return s.cursors[i]
	}
	return Cursor{}
}

// SetLoad sets a member's open items and routings today. Unknown users are
// ignored: they left the roster.
func (s *State) SetLoad(user crm.ID, open, today int) {
	if i, ok := s.router.byUser[user]; ok {
		s.loads[i], s.daily[i] = int32(open), int32(today)
	}
}

// Load returns a member's open items and routings today.
func (s *State) Load(user crm.ID) (open, today int) {
	if i, ok := s.router.byUser[user]; ok {
		return int(s.loads[i]), int(s.daily[i])
	}
	return 0, 0
}

// Apply records a decision in the state: the rule's cursor moves and the
// chosen member gets one more open item and one more routing today. It
// returns [crm.ErrConflict] when the cursor moved since the decision was
// made. Queue decisions change nothing.
func (s *State) Apply(d *Decision) error {
	if d.UserID == crm.NilID {
		return nil
	}
	if d.Rule != "" && d.CursorMoved {
		i := s.router.ruleIdx[d.Rule]
		if s.cursors[i].Version != d.PrevCursor.Version {
			return fmt.Errorf("workflow: rule %s cursor moved: %w", d.Rule, crm.ErrConflict)
		}
		s.cursors[i] = d.Cursor
	}
	if i, ok := s.router.byUser[d.UserID]; ok {
		s.loads[i]++
		s.daily[i]++
	}
	return nil
}

// Request is one record to route.
type Request struct {
	Record *cond.Record
	// Now decides availability (calendars, absences).
	Now time.Time
	// Owner is the owner of the record's existing account, if any; rules
	// with Sticky give the record to them when they are available.
	Owner crm.ID
}

// Decision is where a record goes. Exactly one of UserID and Queue is set.
type Decision struct {
	// Rule is the name of the rule that matched, "" when none did.
	Rule   string
	UserID crm.ID
	Queue  string
	// Fallback is true when the record went to a fallback queue because no
	// rule matched or nobody in the target fitted.
	Fallback bool
	// Sticky is true when the account owner was chosen.
	Sticky bool
	// CursorMoved says the rule's cursor moves from PrevCursor to Cursor.
	CursorMoved bool
	PrevCursor  Cursor
	Cursor      Cursor
}

// Candidate is one member considered by a decision, for explanations.
type Candidate struct {
	UserID  crm.ID
	Name    string
	Skipped SkipReason
	// Open and Today are the member's load and routings today as read from
	// the state; Score is the skills matched under the skills strategy.
	Open, Today, Score int
	Chosen             bool
}

// RuleTrace records whether one rule matched.
type RuleTrace struct {
	Name    string
	Matched bool
}

// Explanation says why a decision went the way it did: which rules were
// tried, which matched, and every candidate considered with the reason it
// was skipped.
type Explanation struct {
	Decision   Decision
	Rules      []RuleTrace
	Strategy   Strategy
	Candidates []Candidate
	// Note explains a fallback or a direct target in words.
	Note string
}

// String renders the explanation for people, one line per fact.
func (e *Explanation) String() string {
	var b strings.Builder
	for _, r := range e.Rules {
		if r.Matched {
			fmt.Fprintf(&b, "rule %s matched\n", r.Name)
		} else {
			fmt.Fprintf(&b, "rule %s did not match\n", r.Name)
		}
	}
	if e.Strategy != "" {
		fmt.Fprintf(&b, "strategy %s\n", e.Strategy)
	}
	for _, c := range e.Candidates {
		name := c.Name
		if name == "" {
			name = c.UserID.String()
		}
		switch {
		case c.Chosen:
			fmt.Fprintf(&b, "  %s: chosen (open %d, today %d)\n", name, c.Open, c.Today)
		default:
			fmt.Fprintf(&b, "  %s: skipped, %s\n", name, c.Skipped)
		}
	}
	if e.Note != "" {
		fmt.Fprintf(&b, "%s\n", e.Note)
	}
	if e.Decision.Queue != "" {
		fmt.Fprintf(&b, "-> queue %s", e.Decision.Queue)
	} else {
		fmt.Fprintf(&b, "-> user %s", e.Decision.UserID)
	}
	return b.String()
}

// Decide routes one record. It is pure and deterministic: the same router,
// state and request give the same decision. It does not allocate. The
// record must be of the router's schema.
func (r *Router) Decide(st *State, req *Request) (Decision, error) {
	if err := r.check(st, req); err != nil {
		return Decision{}, err
	}
	return r.decide(st, req, nil), nil
}

// Explain returns the decision [Router.Decide] makes, with the reasons.
func (r *Router) Explain(st *State, req *Request) (*Explanation, error) {
	if err := r.check(st, req); err != nil {
		return nil, err
	}
	e := &Explanation{}
	e.Decision = r.decide(st, req, e)
	return e, nil
}

func (r *Router) check(st *State, req *Request) error {
	switch {
	case req == nil || req.Record == nil:
		return crm.Invalid("record", "is required")
	case req.Record.Schema() != r.schema:
		return crm.Invalid("record", "was built from another schema than the router's")
	case st == nil || st.router != r:
		return crm.Invalid("state", "was not made by this router's NewState")
	case req.Now.IsZero():
		return crm.Invalid("now", "is required")
	}
	return nil
}

// avail caches calendar answers within one decision: team members usually
// share a calendar.
type avail struct {
	cal  *calendar.Calendar
	open bool
}

func (r *Router) available(st *State, mi int32, rule *compiledRule, now time.Time, cache *avail) SkipReason {
	m := &r.members[mi]
	if !m.Active {
		return SkipInactive
	}
	for i := range m.Absences {
		if a := &m.Absences[i]; !now.Before(a.From) && now.Before(a.To) {
			return SkipAbsent
		}
	}
	if m.Calendar != nil {
		if cache.cal != m.Calendar {
			cache.cal, cache.open = m.Calendar, m.Calendar.IsOpen(now)
		}
		if !cache.open {
			return SkipOffDuty
		}
	}
	if m.Capacity > 0 && int(st.loads[mi]) >= m.Capacity {
		return SkipAtCapacity
	}
	if m.DailyQuota > 0 && int(st.daily[mi]) >= m.DailyQuota {
		return SkipDailyQuota
	}
	for _, s := range rule.require {
		if !hasSkill(m.Skills, s) {
			return SkipMissingSkill
		}
	}
	return NotSkipped
}

func hasSkill(skills []string, s string) bool {
	for _, k := range skills {
		if k == s {
			return true
		}
	}
	return false
}

func (r *Router) trace(e *Explanation, st *State, mi int32, why SkipReason, score int) {
	if e == nil {
		return
	}
	m := &r.members[mi]
	e.Candidates = append(e.Candidates, Candidate{UserID: m.UserID, Name: m.Name, Skipped: why, Open: int(st.loads[mi]), Today: int(st.daily[mi]), Score: score})
}

func (r *Router) decide(st *State, req *Request, e *Explanation) Decision {
	for ri := range r.rules {
		rule := &r.rules[ri]
		matched := rule.when.Match(req.Record)
		if e != nil {
			e.Rules = append(e.Rules, RuleTrace{Name: rule.name, Matched: matched})
		}
		if !matched {
			continue
		}
		d := Decision{Rule: rule.name}
		var cache avail
		switch rule.kind {
		case targetQueue:
			d.Queue = rule.queue
			if e != nil {
				e.Note = "the rule targets a queue"
			}
			return d
		case targetUser:
			why := r.available(st, rule.user, rule, req.Now, &cache)
			r.trace(e, st, rule.user, why, 0)
			if why == NotSkipped {
				d.UserID = r.members[rule.user].UserID
				if e != nil {
					e.Candidates[0].Chosen = true
				}
				return d
			}
			return r.fallback(d, rule.fallback, e, "the rule's user is not available")
		}
		tried := int32(-1) // the owner, when sticky found them unavailable
		if rule.sticky && req.Owner != crm.NilID {
			if mi, ok := r.byUser[req.Owner]; ok {
				tried = mi
				why := r.available(st, mi, rule, req.Now, &cache)
				r.trace(e, st, mi, why, 0)
				if why == NotSkipped {
					d.UserID, d.Sticky = req.Owner, true
					if e != nil {
						e.Candidates[len(e.Candidates)-1].Chosen = true
						e.Note = "the record goes to the owner of the existing account"
					}
					return d
				}
			}
		}
		if e != nil {
			e.Strategy = rule.strategy
		}
		best := r.pick(st, req, rule, r.teams[rule.team], st.cursors[ri], tried, &cache, e)
		if best < 0 {
			return r.fallback(d, rule.fallback, e, "nobody in the team is available")
		}
		d.UserID = r.members[best].UserID
		d.CursorMoved = true
		d.PrevCursor = st.cursors[ri]
		d.Cursor = Cursor{Last: d.UserID, Version: d.PrevCursor.Version + 1}
		return d
	}
	return r.fallback(Decision{}, r.set.FallbackQueue, e, "no rule matched")
}

func (r *Router) fallback(d Decision, queue string, e *Explanation, why string) Decision {
	d.Queue, d.Fallback = queue, true
	if e != nil {
		e.Note = why + ": fallback queue"
	}
	return d
}

// pick runs the rule's strategy over a team (member indices in ID order),
// visiting members in rotation order starting after the cursor. Member
// tried was found unavailable already and is not visited again, so an
// explanation lists every candidate once. It returns the chosen member
// index or -1.
func (r *Router) pick(st *State, req *Request, rule *compiledRule, team []int32, cur Cursor, tried int32, cache *avail, e *Explanation) int32 {
	n := len(team)
	if n == 0 {
		return -1
	}
	start := 0
	if cur.Last != crm.NilID {
		// First member whose ID is above the last chosen one: a member who
		// joined or left since does not shift anyone else's turn.
		hi, lo := idWords(cur.Last)
		start = n
		for i, mi := range team {
			m := &r.members[mi]
			if m.hi > hi || m.hi == hi && m.lo > lo {
				start = i
				break
			}
		}
		if start == n {
			start = 0
		}
	}
	best, bestScore := int32(-1), 0
	bestPos := -1
	for k := 0; k < n; k++ {
		mi := team[(start+k)%n]
		if mi == tried {
			continue
		}
		why := r.available(st, mi, rule, req.Now, cache)
		score := 0
		if why == NotSkipped && rule.strategy == SkillsMatch {
			score = r.skillScore(req.Record, rule.skills, mi)
			if score == 0 {
				why = SkipNoMatchingSkill
			}
		}
		if why != NotSkipped {
			r.trace(e, st, mi, why, score)
			continue
		}
		better := best < 0 || r.better(st, rule.strategy, mi, score, best, bestScore)
		if better {
			if e != nil && bestPos >= 0 {
				e.Candidates[bestPos].Skipped = SkipOutranked
			}
			best, bestScore = mi, score
			if e != nil {
				r.trace(e, st, mi, NotSkipped, score)
				bestPos = len(e.Candidates) - 1
			}
			if rule.strategy == RoundRobin && e == nil {
				break
			}
			continue
		}
		if rule.strategy == RoundRobin {
			r.trace(e, st, mi, SkipNotNextInRotation, score)
		} else {
			r.trace(e, st, mi, SkipOutranked, score)
		}
	}
	if e != nil && bestPos >= 0 {
		e.Candidates[bestPos].Chosen = true
	}
	return best
}

// better reports whether candidate a beats the current best b; ties keep b,
// which came earlier in rotation order.
func (r *Router) better(st *State, s Strategy, a int32, aScore int, b int32, bScore int) bool {
	switch s {
	case LeastLoaded:
		return st.loads[a] < st.loads[b]
	case Weighted:
		// Compare load/weight without division: la*wb < lb*wa.
		return int64(st.loads[a])*r.members[b].weight < int64(st.loads[b])*r.members[a].weight
	case SkillsMatch:
		if aScore != bScore {
			return aScore > bScore
		}
		return st.loads[a] < st.loads[b]
	}
	return false
}

func (r *Router) skillScore(rec *cond.Record, slot int32, mi int32) int {
	if slot < 0 {
		return 0
	}
	one, many, ok := rec.TextAt(int(slot))
	if !ok {
		return 0
	}
	skills := r.members[mi].Skills
	if many == nil {
		if hasSkill(skills, one) {
			return 1
		}
		return 0
	}
	score := 0
	for _, s := range many {
		if hasSkill(skills, s) {
			score++
		}
	}
	return score
}

func idWords(id crm.ID) (uint64, uint64) {
	var hi, lo uint64
	for i := 0; i < 8; i++ {
		hi = hi<<8 | uint64(id[i])
		lo = lo<<8 | uint64(id[8+i])
	}
	return hi, lo
}
